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
from typing import TypeVar

from hal.events import EventQueue, Key, PinDigitsChanged, Timeout
from hal.ports import (
    Align,
    Display,
    Keypad,
    PinEntryResult,
    PinEntryStatus,
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
