"""What devices tell the terminal, and the one queue they all tell it through.

Every input device (readers, keypad, scanners, printer status) posts frozen event
objects into a single :class:`EventQueue`; the terminal's state machine is the only
reader. Events that could carry secrets (track data) keep them out of ``repr``.
"""

from __future__ import annotations

import collections
import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload


class Key(enum.Enum):
    """Keys of a POS handset keypad; the value is the key's label."""

    D0 = "0"
    D1 = "1"
    D2 = "2"
    D3 = "3"
    D4 = "4"
    D5 = "5"
    D6 = "6"
    D7 = "7"
    D8 = "8"
    D9 = "9"
    DOUBLE_ZERO = "00"
    DOT = "."
    ENTER = "ENTER"
    CANCEL = "CANCEL"
    CLEAR = "CLEAR"
    BACKSPACE = "BACKSPACE"
    F1 = "F1"
    F2 = "F2"
    F3 = "F3"
    F4 = "F4"
    UP = "UP"
    DOWN = "DOWN"

    @property
    def is_digit(self) -> bool:
        return self.value.isdigit() and len(self.value) == 1

    @classmethod
    def parse(cls, label: str) -> Key:
        """``"7"`` → ``Key.D7``; ``"enter"`` → ``Key.ENTER``. Raises ValueError."""
        try:
            return cls(label)
        except ValueError:
            return cls[label.upper()]


class PrinterStatus(enum.IntFlag):
    """Printer condition read back from the device; 0 (OK) means ready to print."""

    OK = 0
    PAPER_OUT = enum.auto()
    COVER_OPEN = enum.auto()
    PAPER_NEAR_END = enum.auto()
    OFFLINE = enum.auto()
    ERROR = enum.auto()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every device event; ``source`` names the device (its URL or role)."""

    source: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CardInserted(Event):
    reader: str
    atr: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class CardRemoved(Event):
    reader: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactlessCardPresented(Event):
    """A card entered the field; ``cards`` > 1 means a collision (EMV Book A: ask for one)."""

    cards: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactlessCardRemoved(Event):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderDetached(Event):
    """The reader itself went away (unplugged, daemon gone)."""

    reader: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderAttached(Event):
    reader: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPressed(Event):
    key: Key


@dataclass(frozen=True, slots=True, kw_only=True)
class PinDigitsChanged(Event):
    """Secure PIN mode: only how many digits are held, never which (masked echo)."""

    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QrScanned(Event):
    payload: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class MagstripeSwiped(Event):
    """Tracks as read, sentinels and LRC stripped; kept out of repr (never logged)."""

    track1: str | None = field(default=None, repr=False)
    track2: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class InputRejected(Event):
    """Device input that broke its framing rules (too long, bad LRC, non-printable).

    ``reason`` is safe to log: it never quotes the rejected bytes.
    """

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PrinterStatusChanged(Event):
    status: PrinterStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceError(Event):
    """A device failed; ``reason`` is safe to log. The driver keeps trying to recover."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRecovered(Event):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout(Event):
    """Posted by whoever armed a deadline (e.g. PIN entry) when it passed."""

    what: str = ""


E = TypeVar("E", bound=Event)


class EventQueue:
    """Thread-safe FIFO fed by every device and read by the state machine.

    Bounded: when full, the oldest event is dropped (and counted) rather than
    blocking a device thread, so a stuck reader never stalls the hardware.
    """

    def __init__(self, maxsize: int = 1024) -> None:
        self._items: collections.deque[Event] = collections.deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, event: Event) -> None:
        with self._cond:
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(event)
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when ``timeout`` seconds pass without one."""
        with self._cond:
            if not self._items and not self._wait(lambda: bool(self._items), timeout):
                return None
            return self._items.popleft()

    @overload
    def wait_for(
        self,
        match: type[E] | tuple[type[E], ...],
        timeout: float | None = None,
        predicate: Callable[[E], bool] | None = None,
    ) -> E | None: ...

    @overload
    def wait_for(
        self, match: Callable[[Event], bool], timeout: float | None = None
    ) -> Event | None: ...

    def wait_for(
        self,
        match: Any,
        timeout: float | None = None,
        predicate: Callable[[Any], bool] | None = None,
    ) -> Any:
        """The first queued event that matches; others stay queued.

        ``match`` is an event class (or tuple of classes, optionally narrowed by
        ``predicate``) or a plain ``event -> bool`` function.
        """
        if isinstance(match, type | tuple):
            kinds = match

            def accept(item: Event) -> bool:
                return isinstance(item, kinds) and (predicate is None or predicate(item))
        else:
            accept = match

        with self._cond:
            found: list[Event] = []

            def ready() -> bool:
                for item in self._items:
                    if accept(item):
                        found.append(item)
                        return True
                return False

            if not self._wait(ready, timeout):
                return None
            self._items.remove(found[0])
            return found[0]

    def drain(self) -> list[Event]:
        with self._cond:
            items = list(self._items)
            self._items.clear()
            return items

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def _wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        if ready():
            return True
        if timeout is None:
            while not ready():
                self._cond.wait()
            return True
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._cond.wait(remaining)
            if ready():
                return True
