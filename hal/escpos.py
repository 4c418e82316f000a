"""ESC/POS receipt printer on a serial port or a device file (``/dev/usb/lp0``).

The command bytes (styles, alignment, native QR via GS ( k, cut, code pages) come
from python-escpos, rendered into its in-memory ``Dummy`` printer; this module owns
the transport and the real-time status (DLE EOT), which python-escpos reads too
loosely for a terminal — see docs/decisions/hal-escpos.md. Paper out and cover
open are returned as PrinterStatus flags so the terminal can hold and reprint.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import serial

from hal.errors import PrinterError
from hal.events import EventQueue, PrinterStatus, PrinterStatusChanged
from hal.ports import Align, Cut, Feed, PrintItem, QrCode, TextLine

DLE_EOT = b"\x10\x04"
INIT = b"\x1b@"  # ESC @ initialise


class EscposTransport(Protocol):
    def write(self, data: bytes) -> None: ...

    def read_byte(self, timeout: float) -> int | None: ...

    def discard_input(self) -> None: ...

    def close(self) -> None: ...


class SerialTransport:
    """pyserial port; raises PrinterError on I/O failure."""

    def __init__(self, port: str, baudrate: int = 9600) -> None:
        self.port = port
        try:
            self._serial = serial.serial_for_url(
                port, baudrate=baudrate, timeout=0.5, write_timeout=5
            )
        except (serial.SerialException, OSError, ValueError) as error:
            raise PrinterError(f"cannot open printer port {port}: {error}") from None

    def write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as error:
            raise PrinterError(f"writing printer {self.port} failed: {error}") from None

    def read_byte(self, timeout: float) -> int | None:
        self._serial.timeout = timeout
        try:
            data = self._serial.read(1)
        except (serial.SerialException, OSError) as error:
            raise PrinterError(f"reading printer {self.port} failed: {error}") from None
        return data[0] if data else None

    def discard_input(self) -> None:
        self._serial.reset_input_buffer()

    def close(self) -> None:
        self._serial.close()


class FileTransport:
    """A device file such as /dev/usb/lp0 (usblp answers DLE EOT on read)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            is_device = stat.S_ISCHR(os.stat(path).st_mode)
        except OSError:
            is_device = False  # a plain file (spool or test) is created
        flags = os.O_RDWR | os.O_NONBLOCK if is_device else os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            self._fd = os.open(path, flags | os.O_NOCTTY, 0o600)
        except OSError as error:
            raise PrinterError(f"cannot open printer device {path}: {error.strerror}") from None
        self._readable = is_device

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + 10
        while view:
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PrinterError(
                        f"printer {self.path} did not accept data for 10 s"
                    ) from None
                time.sleep(0.005)
                continue
            except OSError as error:
                raise PrinterError(
                    f"writing printer {self.path} failed: {error.strerror}"
                ) from None
            view = view[written:]

    def read_byte(self, timeout: float) -> int | None:
        if not self._readable:
            return None
        deadline = time.monotonic() + timeout
        while True:
            try:
                data = os.read(self._fd, 1)
            except BlockingIOError:
                data = b""
            except OSError as error:
                raise PrinterError(
                    f"reading printer {self.path} failed: {error.strerror}"
                ) from None
            if data:
                return data[0]
            if time.monotonic() > deadline:
                return None
            time.sleep(0.002)

    def discard_input(self) -> None:
        while self._readable:
            try:
                if not os.read(self._fd, 64):
                    return
            except OSError:
                return

    def close(self) -> None:
        os.close(self._fd)


def _valid_status(byte: int) -> bool:
    # Every DLE EOT answer has bits 1 and 4 set, bits 0 and 7 clear (ESC/POS DLE EOT).
    return byte & 0x93 == 0x12


def decode_status(online: int, offline: int, paper: int) -> PrinterStatus:
    """DLE EOT 1 / 2 / 4 answers → flags (Epson ESC/POS command reference, DLE EOT)."""
    status = PrinterStatus.OK
    if online & 0x08:
        status |= PrinterStatus.OFFLINE
    if offline & 0x04:
        status |= PrinterStatus.COVER_OPEN
    if offline & 0x40:
        status |= PrinterStatus.ERROR
    if paper & 0x60 or offline & 0x20:
        status |= PrinterStatus.PAPER_OUT
    elif paper & 0x0C:
        status |= PrinterStatus.PAPER_NEAR_END
    if status & (PrinterStatus.COVER_OPEN | PrinterStatus.PAPER_OUT | PrinterStatus.ERROR):
        status &= ~PrinterStatus.OFFLINE  # the cause is more useful than "offline"
    return status


def render(items: Sequence[PrintItem]) -> bytes:
    """ESC/POS bytes for a receipt, produced by python-escpos's command set."""
    from escpos.printer import Dummy

    printer = Dummy()
    printer._raw(INIT)
    for item in items:
        if isinstance(item, TextLine):
            printer.set(
                align=item.align.value,
                bold=item.bold,
                underline=1 if item.underline else 0,
                invert=item.inverse,
                double_height=item.double_height,
                double_width=item.double_width,
                normal_textsize=not (item.double_height or item.double_width),
            )
            printer.textln(item.text)
            printer.set_with_default()
        elif isinstance(item, QrCode):
            printer.set(align=Align.CENTER.value)
            printer.qr(item.data, native=True, size=max(1, min(16, item.size)))
            printer.set_with_default()
        elif isinstance(item, Feed):
            printer.ln(item.lines)
        elif isinstance(item, Cut):
            printer.cut(mode="PART" if item.partial else "FULL")
        else:
            raise PrinterError(f"cannot print a {type(item).__name__}: not a hal.ports PrintItem")
    return bytes(printer.output)


class EscposPrinter:
    """The Printer port over ESC/POS.

    ``status()`` asks DLE EOT 1, 2 and 4; no answer within ``status_timeout`` reads as
    OFFLINE, an answer that is not a status byte as ERROR (after one retry). A device
    file that cannot be read reports OK (no status line to ask). Raises PrinterError
    on transport failures.
    """

    def __init__(
        self, transport: EscposTransport, status_timeout: float = 0.5, source: str = "printer"
    ) -> None:
        self.transport = transport
        self.status_timeout = status_timeout
        self.source = source
        self._lock = threading.Lock()
        self._queue: EventQueue | None = None
        self._last: PrinterStatus | None = None
        self.check_status = not isinstance(transport, FileTransport) or transport._readable

    def attach(self, queue: EventQueue) -> None:
        self._queue = queue

    def _ask(self, n: int) -> int | None:
        for _ in range(2):
            self.transport.discard_input()
            self.transport.write(DLE_EOT + bytes([n]))
            byte = self.transport.read_byte(self.status_timeout)
            if byte is None:
                return None
            if _valid_status(byte):
                return byte
        return -1

    def status(self) -> PrinterStatus:
        with self._lock:
            status = self._status()
        if status != self._last:
            self._last = status
            if self._queue is not None:
                self._queue.put(PrinterStatusChanged(source=self.source, status=status))
        return status

    def _status(self) -> PrinterStatus:
        if not self.check_status:
            return PrinterStatus.OK
        answers = [self._ask(n) for n in (1, 2, 4)]
        if any(a is None for a in answers):
            return PrinterStatus.OFFLINE
        if any(a == -1 for a in answers):
            return PrinterStatus.ERROR
        online, offline, paper = (a or 0 for a in answers)
        return decode_status(online, offline, paper)

    def print(self, items: Sequence[PrintItem]) -> PrinterStatus:
        """Print when ready; the status after printing (not OK → reprint later)."""
        before = self.status()
        if before & ~PrinterStatus.PAPER_NEAR_END:
            return before
        data = render(items)
        with self._lock:
            self.transport.write(data)
        return self.status()

    def close(self) -> None:
        self.transport.close()


def open_url(kind: str, url: Any, **options: Any) -> EscposPrinter:
    """``escpos+serial:///dev/ttyS2?baud=19200``, ``serial:///dev/ttyS2``,
    ``escpos+file:///dev/usb/lp0``."""
    query = {**url.query, **options}
    path = url.path or url.target
    transport: EscposTransport
    if url.scheme == "escpos+file":
        transport = FileTransport(path)
    else:
        transport = SerialTransport(path, int(query.get("baud", 9600)))
    return EscposPrinter(transport, float(query.get("status_timeout", 0.5)))
