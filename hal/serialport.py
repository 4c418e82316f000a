"""What the serial input devices share: suffix framing, and a reader thread that
survives the device going away (unplugged USB-serial) and comes back.

The reader thread owns the pyserial port; on an I/O error it posts DeviceError,
closes the port and reopens it every ``retry_interval`` seconds, posting
DeviceRecovered once it is back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from hal.errors import HalError
from hal.events import DeviceError, DeviceRecovered, Event, EventQueue, InputRejected


class SerialDeviceError(HalError):
    """The serial port could not be opened or broke (which port, what failed)."""


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """A frame the framer threw away; ``reason`` never quotes the bytes."""

    reason: str


class SuffixFramer:
    """Splits a byte stream into frames ending with ``suffix``.

    Over-long input is rejected once and then skipped up to the next suffix, so
    the device resynchronises on its own; a partial frame left idle is dropped by
    :meth:`expire` (a half frame from a scanner unplugged mid-read).
    """

    def __init__(self, suffix: bytes = b"\r", max_length: int = 512) -> None:
        if not suffix:
            raise ValueError("suffix must not be empty")
        self.suffix = suffix
        self.max_length = max_length
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes | FrameRejected]:
        out: list[bytes | FrameRejected] = []
        self._buffer += data
        while True:
            index = self._buffer.find(self.suffix)
            if index < 0:
                if len(self._buffer) > self.max_length + len(self.suffix) - 1:
                    if not self._skipping:
                        out.append(FrameRejected(f"frame longer than {self.max_length} bytes"))
                        self._skipping = True
                    # keep a tail that could be the start of a split suffix
                    keep = len(self.suffix) - 1
                    del self._buffer[: len(self._buffer) - keep]
                return out
            frame = bytes(self._buffer[:index])
            del self._buffer[: index + len(self.suffix)]
            if self._skipping:
                self._skipping = False
                continue
            if len(frame) > self.max_length:
                out.append(FrameRejected(f"frame longer than {self.max_length} bytes"))
                continue
            out.append(frame)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def expire(self) -> FrameRejected | None:
        """Drop a partial frame (called when the line has been idle too long)."""
        skipping, had = self._skipping, bool(self._buffer)
        self._buffer.clear()
        self._skipping = False
        if had and not skipping:
            return FrameRejected("incomplete frame (no suffix before the idle time-out)")
        return None


def open_serial(port: str, baudrate: int = 9600, timeout: float = 0.05) -> serial.Serial:
    """Raises SerialDeviceError when the port cannot be opened."""
    try:
        return serial.serial_for_url(port, baudrate=baudrate, timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as error:
        raise SerialDeviceError(f"cannot open {port}: {error}") from None


def parse_suffix(text: str) -> bytes:
    """``"0d"`` or ``"0d0a"`` (hex, as in URL query ``suffix=0d``) → bytes."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise SerialDeviceError(f"suffix must be hex bytes, got {text!r}") from None


class SerialFrameReader:
    """Reads a serial port on a thread, frames it and posts what ``decode`` makes of it.

    ``decode(frame) -> Event`` may raise ``HalError`` to reject a frame; the reason is
    posted as InputRejected and reading continues.
    """

    def __init__(
        self,
        port: str,
        decode: Callable[[bytes], Event],
        source: str,
        baudrate: int = 9600,
        suffix: bytes = b"\r",
        max_length: int = 512,
        idle_timeout: float = 0.5,
        retry_interval: float = 0.2,
    ) -> None:
        self.port = port
        self.decode = decode
        self.source = source
        self.baudrate = baudrate
        self.framer = SuffixFramer(suffix, max_length)
        self.idle_timeout = idle_timeout
        self.retry_interval = retry_interval
        self._serial: serial.Serial | None = open_serial(port, baudrate)
        self._queue: EventQueue | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, queue: EventQueue) -> None:
        self._queue = queue
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, daemon=True, name=f"hal-{self.source}"
            )
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def _post(self, event: Event) -> None:
        if self._queue is not None:
            self._queue.put(event)

    def _run(self) -> None:
        last_data = time.monotonic()
        while not self._stop.is_set():
            port = self._serial
            if port is None:
                if not self._reopen():
                    continue
                port = self._serial
                assert port is not None
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError) as error:
                self._lost(error)
                continue
            now = time.monotonic()
            if not data:
                if self.framer.pending and now - last_data > self.idle_timeout:
                    rejected = self.framer.expire()
                    if rejected is not None:
                        self._post(InputRejected(source=self.source, reason=rejected.reason))
                continue
            last_data = now
            for item in self.framer.feed(data):
                self._handle(item)

    def _handle(self, item: bytes | FrameRejected) -> None:
        if isinstance(item, FrameRejected):
            self._post(InputRejected(source=self.source, reason=item.reason))
            return
        try:
            event = self.decode(item)
        except HalError as error:
            self._post(InputRejected(source=self.source, reason=str(error)))
            return
        self._post(event)

    def _lost(self, error: Any) -> None:
        self._post(
            DeviceError(source=self.source, reason=f"serial port {self.port} failed: {error}")
        )
        if self._serial is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._serial.close()
        self._serial = None
        self.framer.expire()

    def _reopen(self) -> bool:
        if self._stop.wait(self.retry_interval):
            return False
        try:
            self._serial = open_serial(self.port, self.baudrate)
        except SerialDeviceError:
            return False
        self._post(DeviceRecovered(source=self.source))
        return True


class SerialInputDevice:
    """Base of the serial input ports: a SerialFrameReader decoding with ``decode``."""

    reader: SerialFrameReader

    def attach(self, queue: EventQueue) -> None:
        self.reader.attach(queue)

    def close(self) -> None:
        self.reader.close()


def url_options(url: Any, options: dict[str, Any], source: str) -> dict[str, Any]:
    """Common ``serial://PATH?baud=9600&suffix=0d`` options; keyword options win."""
    query = {**url.query, **{k: str(v) for k, v in options.items()}}
    return {
        "port": url.path or url.target,
        "baudrate": int(query.get("baud", 9600)),
        "suffix": parse_suffix(query.get("suffix", "0d")),
        "source": query.get("source", source),
        "query": query,
    }
