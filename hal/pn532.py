"""NXP PN532 NFC front end over UART (HSU) with pyserial — the ContactlessReader port.

Layered like nfcpy: frames (this module's codec) → chip commands
(:class:`Pn532Chip`) → reader (:class:`Pn532Reader`). Frame layout, ACK/NACK,
wake-up and the commands used follow the PN532 User Manual (NXP UM0701-02):
normal and extended information frames (§6.2.1.1-2), ACK/NACK (§6.2.1.3-4),
error frame (§6.2.1.5), HSU wake-up (§7.2.11 / §6.3.2), SAMConfiguration (§7.2.10),
InListPassiveTarget (§7.3.5), InDataExchange (§7.3.8), Diagnose test 6 card
presence (§7.2.1), InRelease (§7.3.11). Why not nfcpy: docs/decisions/hal-pn532.md.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import serial

from hal.apdu import (
    CardCommunicationError,
    CardRemovedError,
    CardTimeoutError,
    ReaderGoneError,
    transmit_resolving,
)
from hal.errors import HalError
from hal.events import (
    ContactlessCardPresented,
    ContactlessCardRemoved,
    DeviceError,
    DeviceRecovered,
    EventQueue,
)
from hal.ports import Indicators, PollResult, PollStatus

HOST_TO_PN532 = 0xD4
PN532_TO_HOST = 0xD5
ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"
WAKEUP = b"\x55\x55" + bytes(14)  # HSU: long preamble wakes the chip from power-down
START = b"\x00\xff"

CMD_DIAGNOSE = 0x00
CMD_GET_FIRMWARE_VERSION = 0x02
CMD_SAM_CONFIGURATION = 0x14
CMD_IN_DATA_EXCHANGE = 0x40
CMD_IN_LIST_PASSIVE_TARGET = 0x4A
CMD_IN_RELEASE = 0x52

BRTY_106A = 0x00  # 106 kbps type A (ISO/IEC 14443-3A)
STATUS_MI = 0x40  # More Information: the target's answer continues (chaining)
STATUS_TIMEOUT = 0x01  # target did not answer (UM0701-02 §7.1 error codes)
STATUS_RELEASED = 0x29  # target released by initiator


class Pn532Error(HalError):
    """The PN532 link or chip failed (which command, which status)."""


class Pn532FrameError(Pn532Error):
    """A frame from the chip broke the layout rules (bad LCS/DCS, wrong TFI)."""


class Pn532Timeout(Pn532Error):
    pass


class Pn532StatusError(Pn532Error):
    """The chip answered a command with an error status byte."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# --- frame codec ------------------------------------------------------------------------


def encode_frame(data: bytes, tfi: int = HOST_TO_PN532) -> bytes:
    """One information frame (normal up to 254 bytes of TFI+data, else extended)."""
    body = bytes([tfi]) + data
    dcs = (-sum(body)) & 0xFF
    if len(body) <= 0xFF - 1:
        length = len(body)
        header = bytes([length, (-length) & 0xFF])
    elif len(body) <= 0xFFFF:
        high, low = len(body) >> 8, len(body) & 0xFF
        header = b"\xff\xff" + bytes([high, low, (-(high + low)) & 0xFF])
    else:
        raise Pn532FrameError(f"frame body of {len(body)} bytes is too long")
    return b"\x00" + START + header + body + bytes([dcs, 0x00])


@dataclass(frozen=True, slots=True)
class Ack:
    pass


@dataclass(frozen=True, slots=True)
class Nack:
    pass


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """Syntax error frame from the chip (00 00 FF 01 FF 7F 81 00)."""


@dataclass(frozen=True, slots=True)
class InfoFrame:
    tfi: int
    data: bytes


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame whose checksums failed; ``reason`` says which."""

    reason: str


Frame = Ack | Nack | ErrorFrame | InfoFrame | BadFrame


class FrameParser:
    """Incremental parser: bytes in, frames out. Noise before a start code is skipped;
    a frame with a bad length or data checksum becomes BadFrame and parsing resumes
    right after its start code, so one corrupt byte never loses the next frame."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def reset(self) -> None:
        self._buffer.clear()

    def _next(self) -> Frame | None:
        buf = self._buffer
        start = buf.find(START)
        if start < 0:
            del buf[: max(0, len(buf) - 1)]  # keep a possible lone 0x00
            return None
        del buf[:start]
        if len(buf) < 4:
            return None
        length, lcs = buf[2], buf[3]
        if length == 0x00 and lcs == 0xFF:
            del buf[:4]
            return Ack()
        if length == 0xFF and lcs == 0x00:
            del buf[:4]
            return Nack()
        if length == 0xFF and lcs == 0xFF:  # extended frame
            if len(buf) < 7:
                return None
            high, low, lcs = buf[4], buf[5], buf[6]
            if (high + low + lcs) & 0xFF:
                del buf[:2]
                return BadFrame("extended length checksum (LCS) mismatch")
            length, offset = high << 8 | low, 7
        else:
            if (length + lcs) & 0xFF:
                del buf[:2]
                return BadFrame("length checksum (LCS) mismatch")
            offset = 4
        if length == 0:
            del buf[:2]
            return BadFrame("zero-length information frame")
        if len(buf) < offset + length + 1:
            return None
        body = bytes(buf[offset : offset + length])
        dcs = buf[offset + length]
        if (sum(body) + dcs) & 0xFF:
            del buf[:2]
            return BadFrame("data checksum (DCS) mismatch")
        del buf[: offset + length + 1]
        if body == b"\x7f":
            return ErrorFrame()
        return InfoFrame(body[0], body[1:])


# --- chip -----------------------------------------------------------------------------


class Pn532Chip:
    """Sends commands and waits for ACK and the response, over one serial port.

    A corrupt response is answered with NACK (the chip resends it), a corrupt or
    missing ACK with a resend of the command; both bounded by ``retries``.
    """

    def __init__(
        self, port: str, baudrate: int = 115200, retries: int = 2, ack_timeout: float = 0.1
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.parser = FrameParser()
        self.lock = threading.RLock()
        self._pending: list[Frame] = []
        self._serial: serial.Serial | None = None
        self._open()

    def _open(self) -> None:
        try:
            self._serial = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.01)
        except (serial.SerialException, OSError, ValueError) as error:
            raise Pn532Error(f"cannot open PN532 port {self.port}: {error}") from None
        self.parser.reset()

    def reopen(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def _write(self, data: bytes) -> None:
        if self._serial is None:
            raise Pn532Error(f"PN532 port {self.port} is closed")
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as error:
            raise Pn532Error(f"writing PN532 port {self.port} failed: {error}") from None

    def _read_frame(self, deadline: float) -> Frame | None:
        if self._serial is None:
            raise Pn532Error(f"PN532 port {self.port} is closed")
        while True:
            frames = self.parser.feed(b"")
            if frames:
                # put back what we do not consume now
                first, rest = frames[0], frames[1:]
                self._pushback(rest)
                return first
            if time.monotonic() > deadline:
                return None
            try:
                data = self._serial.read(max(1, self._serial.in_waiting))
            except (serial.SerialException, OSError) as error:
                raise Pn532Error(f"reading PN532 port {self.port} failed: {error}") from None
            if data:
                frames = self.parser.feed(data)
                if frames:
                    self._pushback(frames[1:])
                    return frames[0]

    def _pushback(self, frames: list[Frame]) -> None:
        if frames:
            self._pending = frames + self._pending

    def _next_frame(self, deadline: float) -> Frame | None:
        if self._pending:
            return self._pending.pop(0)
        return self._read_frame(deadline)

    def wake_up(self) -> None:
        """HSU wake-up preamble, then SAMConfiguration normal mode (no SAM)."""
        with self.lock:
            self._write(WAKEUP)
            self.command(CMD_SAM_CONFIGURATION, bytes([0x01, 0x14, 0x01]), timeout=1.0)

    def command(self, code: int, data: bytes = b"", timeout: float = 1.0) -> bytes:
        """Run one command; return the response data after the response code.

        Raises Pn532Timeout (no ACK / no response), Pn532FrameError (corrupt after
        retries, wrong response code), Pn532Error (port failure).
        """
        frame = encode_frame(bytes([code]) + data)
        with self.lock:
            for _attempt in range(self.retries + 1):
                self._discard_input()
                self._write(frame)
                if self._await_ack(time.monotonic() + self.ack_timeout):
                    return self._response(code, timeout)
            raise Pn532Timeout(f"PN532 did not acknowledge command 0x{code:02X}")

    def _await_ack(self, deadline: float) -> bool:
        """True on ACK; stale or corrupt frames before it are skipped."""
        while True:
            got = self._next_frame(deadline)
            if got is None or isinstance(got, ErrorFrame):
                return False
            if isinstance(got, Ack):
                return True

    def _discard_input(self) -> None:
        """Drop anything left from an earlier exchange (a late answer, line noise)."""
        self._pending = []
        self.parser.reset()
        if self._serial is not None:
            try:
                self._serial.reset_input_buffer()
            except (serial.SerialException, OSError) as error:
                raise Pn532Error(f"PN532 port {self.port} failed: {error}") from None

    def _response(self, code: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        nacks = 0
        while True:
            got = self._next_frame(deadline)
            if got is None:
                raise Pn532Timeout(
                    f"PN532 sent no response to command 0x{code:02X} within {timeout:g} s"
                )
            if isinstance(got, BadFrame):
                if nacks >= self.retries:
                    raise Pn532FrameError(
                        f"response to 0x{code:02X}: {got.reason} (after {nacks} NACKs)"
                    )
                nacks += 1
                self._write(NACK)  # ask the chip to send its last frame again
                continue
            if isinstance(got, ErrorFrame):
                raise Pn532FrameError(f"PN532 reported a syntax error for command 0x{code:02X}")
            if isinstance(got, InfoFrame):
                if got.tfi != PN532_TO_HOST or not got.data or got.data[0] != code + 1:
                    raise Pn532FrameError(f"unexpected frame in response to 0x{code:02X}")
                return got.data[1:]
            # stray ACK/NACK: ignore

    def firmware_version(self) -> tuple[int, int, int, int]:
        ic, ver, rev, support = self.command(CMD_GET_FIRMWARE_VERSION)[:4]
        return ic, ver, rev, support


# --- reader -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeATarget:
    """One ISO/IEC 14443-A target as InListPassiveTarget reports it."""

    number: int
    sens_res: bytes
    sel_res: int
    uid: bytes
    ats: bytes

    @property
    def iso_dep(self) -> bool:
        return bool(self.sel_res & 0x20)  # ISO/IEC 14443-3, SAK bit 6: ISO/IEC 14443-4 compliant


def parse_targets(data: bytes) -> list[TypeATarget]:
    """InListPassiveTarget 106 kbps type A response (after D5 4B) → targets.

    Raises Pn532FrameError for a truncated target list.
    """
    if not data:
        raise Pn532FrameError("empty InListPassiveTarget response")
    count, offset, targets = data[0], 1, []
    try:
        for _ in range(count):
            number = data[offset]
            sens_res = data[offset + 1 : offset + 3]
            sel_res = data[offset + 3]
            uid_length = data[offset + 4]
            uid = data[offset + 5 : offset + 5 + uid_length]
            offset += 5 + uid_length
            ats = b""
            if sel_res & 0x20:
                ats_length = data[offset]
                ats = data[offset : offset + ats_length]
                offset += ats_length
            if len(uid) != uid_length or len(sens_res) != 2:
                raise IndexError
            targets.append(TypeATarget(number, bytes(sens_res), sel_res, bytes(uid), bytes(ats)))
    except IndexError:
        raise Pn532FrameError(
            f"InListPassiveTarget response truncated at offset {offset}"
        ) from None
    return targets


class Pn532CardSession:
    """The activated ISO-DEP card, as the kernel's CardTransport (InDataExchange)."""

    def __init__(self, reader: Pn532Reader, target: TypeATarget) -> None:
        self.reader = reader
        self.target = target
        self._dead: Exception | None = None

    @property
    def atr(self) -> bytes:
        return self.target.ats

    def _raw(self, apdu: bytes) -> bytes:
        if self._dead is not None:
            raise self._dead
        chip = self.reader.chip
        out = bytearray()
        request = bytes([self.target.number]) + apdu
        for _ in range(64):
            try:
                reply = chip.command(
                    CMD_IN_DATA_EXCHANGE, request, timeout=self.reader.command_timeout
                )
            except Pn532Timeout as error:
                self._dead = CardTimeoutError(f"{self.reader.name}: {error}")
                raise self._dead from None
            except Pn532Error as error:
                self._dead = ReaderGoneError(f"{self.reader.name}: {error}")
                raise self._dead from None
            if not reply:
                raise CardCommunicationError(f"{self.reader.name}: empty InDataExchange response")
            status = reply[0]
            if status & 0x3F == STATUS_TIMEOUT or status & 0x3F == STATUS_RELEASED:
                self._dead = CardRemovedError(
                    f"{self.reader.name}: card left the field "
                    f"(InDataExchange status 0x{status:02X})"
                )
                raise self._dead
            if status & 0x3F:
                raise CardCommunicationError(
                    f"{self.reader.name}: InDataExchange status 0x{status:02X}"
                )
            out += reply[1:]
            if not status & STATUS_MI:
                return bytes(out)
            request = bytes([self.target.number])  # fetch the rest of a chained answer
        raise CardCommunicationError(f"{self.reader.name}: endless chained answer")

    def transmit(self, apdu: bytes) -> bytes:
        """Raises CardRemovedError, CardTimeoutError, ReaderGoneError, CardCommunicationError."""
        return transmit_resolving(self._raw, apdu, self.reader.name)


class Pn532Reader:
    """The ContactlessReader port over a PN532 on a UART.

    Raises Pn532Error when the port cannot be opened or the chip does not wake.
    """

    indicators: Indicators | None = None

    def __init__(
        self,
        port: str,
        baudrate: int = 115200,
        command_timeout: float = 1.0,
        poll_interval: float = 0.1,
        source: str | None = None,
        indicators: Indicators | None = None,
    ) -> None:
        self.name = f"pn532:{port}"
        self.source = source or f"pn532://{port}"
        self.command_timeout = command_timeout
        self.poll_interval = poll_interval
        self.indicators = indicators
        self.chip = Pn532Chip(port, baudrate)
        try:
            self.chip.wake_up()
        except Pn532Error:
            self.chip.close()
            raise
        self._last_poll: list[TypeATarget] = []
        self.session: Pn532CardSession | None = None
        self._queue: EventQueue | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def list_targets(self, max_targets: int = 2) -> list[TypeATarget]:
        """InListPassiveTarget, asking for two targets so a second card is seen."""
        data = self.chip.command(
            CMD_IN_LIST_PASSIVE_TARGET,
            bytes([max_targets, BRTY_106A]),
            timeout=self.command_timeout,
        )
        return parse_targets(data)

    def poll(self, timeout: float) -> PollResult:
        deadline = time.monotonic() + timeout
        while True:
            targets = self.list_targets()
            self._last_poll = targets
            if len(targets) > 1:
                self.release()
                return PollResult(PollStatus.COLLISION, len(targets))
            if targets:
                return PollResult(PollStatus.ONE_CARD, 1, targets[0].uid)
            if time.monotonic() + self.poll_interval > deadline:
                return PollResult(PollStatus.NO_CARD)
            time.sleep(self.poll_interval)

    def activate(self) -> Pn532CardSession:
        """The card found by the last poll; raises Pn532Error when there is not exactly one."""
        if len(self._last_poll) != 1:
            raise Pn532Error(
                f"{self.name}: activate needs exactly one card, "
                f"last poll saw {len(self._last_poll)}"
            )
        target = self._last_poll[0]
        if not target.iso_dep:
            raise Pn532Error(
                f"{self.name}: card is not ISO/IEC 14443-4 (SAK 0x{target.sel_res:02X})"
            )
        self.session = Pn532CardSession(self, target)
        return self.session

    def card_present(self) -> bool:
        """Diagnose test 6 (card presence for ISO/IEC 14443-4), UM0701-02 §7.2.1."""
        if self.session is None:
            return bool(self.list_targets(1))
        try:
            reply = self.chip.command(CMD_DIAGNOSE, b"\x06", timeout=self.command_timeout)
        except Pn532Timeout:
            return False
        return bool(reply) and reply[0] == 0x00

    def wait_for_removal(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.card_present():
            if time.monotonic() > deadline:
                return False
            time.sleep(self.poll_interval)
        self.release()
        return True

    def release(self) -> None:
        with contextlib.suppress(Pn532Error):
            self.chip.command(CMD_IN_RELEASE, b"\x00", timeout=self.command_timeout)
        self.session = None

    def deactivate(self) -> None:
        self.release()

    def attach(self, queue: EventQueue) -> None:
        """Poll for cards on a thread when no session is active; post present/removed."""
        self._queue = queue
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, daemon=True, name="hal-pn532")
            self._thread.start()

    def _watch(self) -> None:
        present, failed = False, False
        while not self._stop.wait(self.poll_interval):
            if self.session is not None:
                continue  # the transaction owns the chip
            try:
                with self.chip.lock:
                    targets = self.list_targets()
                    if targets:
                        self.release()
            except Pn532Error as error:
                if not failed and self._queue is not None:
                    self._queue.put(DeviceError(source=self.source, reason=str(error)))
                failed = True
                try:
                    self.chip.reopen()
                    self.chip.wake_up()
                except Pn532Error:
                    pass
                continue
            if failed and self._queue is not None:
                self._queue.put(DeviceRecovered(source=self.source))
            failed = False
            if bool(targets) != present:
                present = bool(targets)
                if self._queue is not None:
                    self._queue.put(
                        ContactlessCardPresented(source=self.source, cards=len(targets))
                        if present
                        else ContactlessCardRemoved(source=self.source)
                    )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self.chip.close()


def open_url(kind: str, url: Any, **options: Any) -> Pn532Reader:
    """``pn532:///dev/ttyS1?baud=115200``"""
    query = {**url.query, **options}
    return Pn532Reader(
        url.path or url.target,
        baudrate=int(query.get("baud", 115200)),
        command_timeout=float(query.get("timeout", 1.0)),
        indicators=options.get("indicators"),
    )
