"""Secure PIN entry over any Keypad: digits never reach application code.

While a PIN is being entered the keypad routes every key here (``set_pin_sink``),
not to the event queue. Digits are kept in one bytearray; on ENTER the PIN is
handed to ``consume`` — the online path builds the enciphered ISO 9564 block
through keys/, the offline path is the kernel's VERIFY builder — and every buffer
is overwritten before :meth:`SecurePinEntry.enter_pin` returns, whatever happens.
Only the number of digits leaves (masked echo on the display and PinDigitsChanged).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from emv import callbacks as emv_callbacks
from hal.events import EventQueue, Key, PinDigitsChanged, Timeout
from hal.ports import (
    Align,
    Display,
    Keypad,
    PinEntryResult,
    PinEntryStatus,
    PinPad,
    PinRequest,
    TextLine,
)

T = TypeVar("T")

MASK = "*"


def zeroize(buffer: bytearray) -> None:
    """Overwrite in place (a bytearray, unlike bytes/str, can be wiped)."""
    for index in range(len(buffer)):
        buffer[index] = 0


class SecurePinEntry:
    """The PinPad port over a Keypad, with masked echo on an optional Display.

    ``clock`` is the monotonic time source (injectable so tests need not sleep).
    """

    def __init__(
        self,
        keypad: Keypad,
        queue: EventQueue | None = None,
        display: Display | None = None,
        clock: Callable[[], float] = time.monotonic,
        source: str = "pinpad",
    ) -> None:
        self.keypad = keypad
        self.queue = queue
        self.display = display
        self.clock = clock
        self.source = source
        self._keys: collections.deque[Key] = collections.deque()
        self._cond = threading.Condition()
        self._busy = threading.Lock()

    # PinSink: called from the keypad's thread
    def pin_key(self, key: Key) -> None:
        with self._cond:
            self._keys.append(key)
            self._cond.notify_all()

    def enter_pin(
        self, request: PinRequest, consume: Callable[[bytearray], T]
    ) -> PinEntryResult[T]:
        """Collect a PIN and hand it to ``consume``; CANCELLED/TIMEOUT/BYPASSED otherwise.

        Exceptions raised by ``consume`` propagate after the buffers are wiped.
        """
        with self._busy:
            buffer = bytearray(request.max_digits)
            with self._cond:
                self._keys.clear()
            self.keypad.set_pin_sink(self)
            try:
                return self._collect(request, buffer, consume)
            finally:
                self.keypad.set_pin_sink(None)
                zeroize(buffer)
                with self._cond:
                    self._keys.clear()
                if self.display is not None:
                    self.display.clear()

    def _collect(
        self, request: PinRequest, buffer: bytearray, consume: Callable[[bytearray], T]
    ) -> PinEntryResult[T]:
        count = 0
        self._echo(request, count)
        deadline = self.clock() + request.first_key_timeout
        while True:
            key = self._next_key(deadline)
            if key is None:
                if self.queue is not None:
                    self.queue.put(Timeout(source=self.source, what="pin entry"))
                return PinEntryResult(PinEntryStatus.TIMEOUT)
            deadline = self.clock() + request.inter_key_timeout
            if key.is_digit:
                if count < request.max_digits:
                    buffer[count] = ord(key.value)
                    count += 1
            elif key is Key.CLEAR:
                zeroize(buffer)
                count = 0
            elif key is Key.BACKSPACE and count:
                count -= 1
                buffer[count] = 0
            elif key is Key.CANCEL:
                return PinEntryResult(PinEntryStatus.CANCELLED)
            elif key is Key.ENTER:
                if count == 0 and request.allow_bypass:
                    return PinEntryResult(PinEntryStatus.BYPASSED)
                if count >= request.min_digits:
                    pin = bytearray(buffer[:count])
                    try:
                        return PinEntryResult(PinEntryStatus.ENTERED, consume(pin))
                    finally:
                        zeroize(pin)
                continue  # too short: ignore ENTER, keep the digits
            else:
                continue
            self._echo(request, count)

    def _next_key(self, deadline: float) -> Key | None:
        with self._cond:
            while not self._keys:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.05))
            return self._keys.popleft()

    def _echo(self, request: PinRequest, count: int) -> None:
        if self.queue is not None:
            self.queue.put(PinDigitsChanged(source=self.source, count=count))
        if self.display is not None:
            lines: Sequence[str | TextLine] = [
                line
                for line in (
                    TextLine(request.amount_text, Align.RIGHT) if request.amount_text else None,
                    TextLine(request.prompt, Align.CENTER),
                    TextLine(MASK * count, Align.CENTER),
                )
                if line is not None
            ]
            self.display.show(lines)


# --- what the consumers do with the digits ------------------------------------------


class OfflinePinBlock:
    """The kernel's OfflinePin (emv.callbacks): holds only the plaintext PIN block of
    EMV Book 3, 6.5.12 (format 2: ``2N PP..PP FF..FF``) in a wipeable bytearray."""

    def __init__(self, digits: bytearray) -> None:
        if not 4 <= len(digits) <= 12 or not all(0x30 <= d <= 0x39 for d in digits):
            raise ValueError("offline PIN must be 4 to 12 digits")
        block = bytearray(b"\xff" * 8)
        block[0] = 0x20 | len(digits)
        for index, digit in enumerate(digits):
            byte, low = divmod(index + 2, 2)
            nibble = digit - 0x30
            block[byte] = (
                (block[byte] & 0x0F) | nibble << 4 if not low else (block[byte] & 0xF0) | nibble
            )
        self._block = block

    def offline_pin_block(self) -> bytes:
        return bytes(self._block)

    def wipe(self) -> None:
        zeroize(self._block)

    def __repr__(self) -> str:
        return "OfflinePinBlock(<hidden>)"


def offline_pin_consumer(digits: bytearray) -> OfflinePinBlock:
    """Offline PIN: the digits go straight into the block the VERIFY builder sends."""
    return OfflinePinBlock(digits)


class PinKeySession(Protocol):
    """What online PIN needs of the DUKPT transaction key (terminal.hostmsg.KeySession)."""

    @property
    def ksn(self) -> bytes: ...

    def pin_key(self) -> bytes: ...


@dataclass(frozen=True, slots=True, repr=False)
class EncipheredPin:
    block: bytes  # DE 52
    ksn: bytes  # DE 48 KS

    def __repr__(self) -> str:
        return f"EncipheredPin(ksn={self.ksn.hex().upper()})"


def online_pin_consumer(pan: str, session: PinKeySession) -> Callable[[bytearray], EncipheredPin]:
    """Online PIN: ISO 9564-1 format 0 under the DUKPT PIN variant (host-spec DE 52)."""
    from keys import pinblock

    def consume(digits: bytearray) -> EncipheredPin:
        clear = pinblock.encode_clear(0, digits.decode("ascii"), pan)
        return EncipheredPin(pinblock.encipher_tdes(session.pin_key(), clear), session.ksn)

    return consume


def kernel_pin_entry(
    pinpad: PinPad,
    request: emv_callbacks.PinRequest,
    *,
    pan: str = "",
    session: PinKeySession | None = None,
    allow_bypass: bool = False,
    first_key_timeout: float = 30.0,
    inter_key_timeout: float = 15.0,
) -> emv_callbacks.PinEntry:
    """Answer the kernel's ``enter_pin`` callback through the PIN pad.

    Online PIN needs the full ``pan`` and the transaction's key ``session``; a missing
    one is reported as PINPAD_FAULT (Book 4, 6.3.4.1) rather than raised.
    """
    prompt = "LAST PIN TRY" if request.last_try else "ENTER PIN"
    pin_request = PinRequest(
        allow_bypass=allow_bypass,
        first_key_timeout=first_key_timeout,
        inter_key_timeout=inter_key_timeout,
        prompt=prompt,
    )
    statuses = {
        PinEntryStatus.BYPASSED: emv_callbacks.PinStatus.BYPASSED,
        PinEntryStatus.CANCELLED: emv_callbacks.PinStatus.CANCELLED,
        PinEntryStatus.TIMEOUT: emv_callbacks.PinStatus.TIMEOUT,
    }
    if request.kind is emv_callbacks.PinKind.ONLINE:
        if session is None or not pan:
            return emv_callbacks.PinEntry(emv_callbacks.PinStatus.PINPAD_FAULT)
        online = pinpad.enter_pin(pin_request, online_pin_consumer(pan, session))
        if online.status is PinEntryStatus.ENTERED and online.value is not None:
            return emv_callbacks.PinEntry(
                emv_callbacks.PinStatus.ENTERED,
                online_block=online.value.block,
                ksn=online.value.ksn,
            )
        return emv_callbacks.PinEntry(statuses[online.status])
    offline = pinpad.enter_pin(pin_request, offline_pin_consumer)
    if offline.status is PinEntryStatus.ENTERED and offline.value is not None:
        return emv_callbacks.PinEntry(emv_callbacks.PinStatus.ENTERED, offline=offline.value)
    return emv_callbacks.PinEntry(statuses[offline.status])
