"""The device ports the terminal codes against, as ``typing.Protocol`` classes.

Real drivers (one module each in hal/) and the simulator (sim/devices) implement
these; ``hal.registry.open_device(kind, url)`` picks one by URL. Input devices do
not return input from calls: once ``attach``-ed they post events (hal.events) into
the one :class:`~hal.events.EventQueue` the state machine reads.

Errors: every driver raises only subclasses of :class:`hal.errors.HalError`, except
card transports, which raise :class:`emv.transport.CardTransportError` subclasses
(the kernel's own error type) when the card is gone.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from emv.transport import CardTransport
from hal.events import EventQueue, Key, PrinterStatus

__all__ = [
    "Align",
    "Beep",
    "Beeper",
    "CardSession",
    "Clock",
    "ContactReader",
    "ContactlessReader",
    "Cut",
    "Display",
    "Feed",
    "HostLink",
    "Indicators",
    "InputDevice",
    "Keypad",
    "Light",
    "MagStripeReader",
    "PinEntryResult",
    "PinEntryStatus",
    "PinPad",
    "PinRequest",
    "PinSink",
    "PollResult",
    "PollStatus",
    "PrintItem",
    "Printer",
    "PrinterStatus",
    "QrCode",
    "QrScanner",
    "RootSecretProvider",
    "TextLine",
]

T = TypeVar("T")


# --- input devices ------------------------------------------------------------------


class InputDevice(Protocol):
    """Anything that posts events: ``attach`` starts it, ``close`` stops and frees it."""

    def attach(self, queue: EventQueue) -> None:
        """Start posting this device's events into ``queue`` (from a driver thread)."""
        ...

    def close(self) -> None: ...


class CardSession(CardTransport, Protocol):
    """A powered card: the kernel's CardTransport plus what the reader learned."""

    @property
    def atr(self) -> bytes:
        """Answer to reset (contact) or the ATS/ATR the reader synthesised (contactless)."""
        ...


class ContactReader(InputDevice, Protocol):
    """A contact (ISO 7816) reader. Posts CardInserted / CardRemoved / ReaderDetached."""

    name: str

    def card_present(self) -> bool: ...

    def wait_for_card(self, timeout: float) -> bool:
        """True when a card is (or becomes) present within ``timeout`` seconds."""
        ...

    def wait_for_removal(self, timeout: float) -> bool:
        """True when no card is (or becomes) present within ``timeout`` seconds."""
        ...

    def power_on(self) -> CardSession:
        """Power and reset the card; raises hal.pcsc.NoCardError / ReaderError."""
        ...

    def power_off(self) -> None: ...


class PollStatus(enum.Enum):
    NO_CARD = "no card"
    ONE_CARD = "one card"
    COLLISION = "more than one card"  # EMV Book D: collision → ask for one card


@dataclass(frozen=True, slots=True)
class PollResult:
    status: PollStatus
    cards: int = 0
    uid: bytes = b""  # of the card that would be activated; not cardholder data


class ContactlessReader(InputDevice, Protocol):
    """An ISO 14443 front end. Posts ContactlessCardPresented / ContactlessCardRemoved."""

    name: str
    indicators: Indicators | None

    def poll(self, timeout: float) -> PollResult:
        """Look for cards in the field for up to ``timeout`` seconds."""
        ...

    def activate(self) -> CardSession:
        """Activate the one card found by the last poll (ISO 14443-4)."""
        ...

    def card_present(self) -> bool:
        """Is the activated card still in the field (removal detection)?"""
        ...

    def wait_for_removal(self, timeout: float) -> bool: ...

    def deactivate(self) -> None: ...


class MagStripeReader(InputDevice, Protocol):
    """Posts MagstripeSwiped (LRC-checked tracks) or InputRejected (bad swipe)."""


class QrScanner(InputDevice, Protocol):
    """Posts QrScanned (one framed, printable payload) or InputRejected."""


class PinSink(Protocol):
    """Where a keypad in secure PIN mode sends keys instead of the event queue."""

    def pin_key(self, key: Key) -> None: ...


class Keypad(InputDevice, Protocol):
    """Posts KeyPressed; in secure PIN mode keys go to the sink and never to the queue."""

    def set_pin_sink(self, sink: PinSink | None) -> None:
        """Route every key to ``sink`` (secure PIN mode) or, with None, back to the queue."""
        ...


# --- secure PIN entry ---------------------------------------------------------------


class PinEntryStatus(enum.Enum):
    ENTERED = "entered"  # ``value`` holds what the consumer returned
    BYPASSED = "bypassed"  # ENTER with no digits, where the CVM allows bypass
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class PinRequest:
    """One PIN prompt. Time-outs come from config (``[pin]`` section)."""

    min_digits: int = 4  # ISO 9564-1: 4..12 digits
    max_digits: int = 12
    allow_bypass: bool = False
    first_key_timeout: float = 30.0
    inter_key_timeout: float = 15.0
    prompt: str = "ENTER PIN"
    amount_text: str = ""


@dataclass(frozen=True, slots=True)
class PinEntryResult(Generic[T]):
    status: PinEntryStatus
    value: T | None = None  # the consumer's return value: PIN block, VERIFY outcome


class PinPad(Protocol):
    """Secure PIN entry: the digits go to ``consume`` only, then are zeroized.

    ``consume`` receives the PIN as ASCII digits in a bytearray which is overwritten
    as soon as it returns; it must not keep a reference. Online PIN: consume builds
    the enciphered ISO 9564 block through keys/ (hal.pinentry.online_pin_consumer).
    Offline PIN: consume is the kernel's VERIFY builder.
    """

    def enter_pin(
        self, request: PinRequest, consume: Callable[[bytearray], T]
    ) -> PinEntryResult[T]: ...


# --- output devices -----------------------------------------------------------------


class Align(enum.Enum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of display or receipt text with its style."""

    text: str
    align: Align = Align.LEFT
    bold: bool = False
    double_height: bool = False
    double_width: bool = False
    underline: bool = False
    inverse: bool = False


@dataclass(frozen=True, slots=True)
class QrCode:
    data: str
    size: int = 6  # module size in dots (ESC/POS GS ( k function 167)


@dataclass(frozen=True, slots=True)
class Feed:
    lines: int = 1


@dataclass(frozen=True, slots=True)
class Cut:
    partial: bool = False


PrintItem = TextLine | QrCode | Feed | Cut


class Display(Protocol):
    """A small text screen (e.g. 16×4, 21×8, 32×10). Long lines are cut, not wrapped."""

    columns: int
    rows: int

    def show(self, lines: Sequence[str | TextLine]) -> None:
        """Replace the whole screen with ``lines`` (top to bottom; extra rows dropped)."""
        ...

    def clear(self) -> None: ...

    def close(self) -> None: ...


class Printer(Protocol):
    """A receipt printer. Paper out / cover open are returned, not raised, so the
    terminal can hold the receipt and reprint; I/O failures raise PrinterError."""

    def status(self) -> PrinterStatus: ...

    def print(self, items: Sequence[PrintItem]) -> PrinterStatus:
        """Print when ready; return the status read back (OK when printed)."""
        ...

    def close(self) -> None: ...


class Light(enum.IntFlag):
    """The four EMV contactless status indicators (EMV Book A, 9.2), left to right."""

    NONE = 0
    LIGHT1 = enum.auto()  # not in use / ready (steady or blinking while idle)
    LIGHT2 = enum.auto()  # card read in progress
    LIGHT3 = enum.auto()  # card read in progress
    LIGHT4 = enum.auto()  # card read successfully
    ALL = LIGHT1 | LIGHT2 | LIGHT3 | LIGHT4


class Beep(enum.Enum):
    """EMV Book A, 9.3 audio: success ≈1500 Hz 500 ms; alert ≈750 Hz 200/200/200 ms."""

    SUCCESS = "success"
    ALERT = "alert"
    KEY = "key"  # short key click


class Beeper(Protocol):
    def beep(self, kind: Beep = Beep.SUCCESS) -> None: ...


class Indicators(Beeper, Protocol):
    """The four contactless lights and the buzzer."""

    def set_lights(self, lights: Light) -> None: ...

    def close(self) -> None: ...


# --- host, time, secrets ------------------------------------------------------------


class HostLink(Protocol):
    """A framed link to the acquirer (host-spec: 2-byte big-endian length, ≤ 4096).

    Raises hal.hostlink.HostLinkError subclasses: ConnectError, PinMismatchError,
    LinkTimeout, FrameTooLongError, LinkClosedError. All mean "no valid response".
    """

    def connect(self, timeout: float) -> None: ...

    def send(self, frame: bytes) -> None: ...

    def receive(self, timeout: float) -> bytes: ...

    def close(self) -> None: ...

    @property
    def connected(self) -> bool: ...


@runtime_checkable
class Clock(Protocol):
    """Wall time for the journal and EMV dates; monotonic time for time-outs."""

    def now(self) -> datetime.datetime:
        """Timezone-aware local time of the terminal."""
        ...

    def monotonic(self) -> float: ...


class RootSecretProvider(Protocol):
    """Hands keys.store the root secret its device key derives from (never stored
    in the store file). A file or environment value on a laptop, hardware on handsets."""

    def root_secret(self) -> bytes: ...
