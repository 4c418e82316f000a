"""What only the outside world can do for the kernel: the callback interface.

The kernel never sees PIN digits. Offline PIN arrives as an opaque
:class:`OfflinePin` whose only ability is to produce the plaintext PIN block the
VERIFY command (or the RSA encipherment) carries; online PIN arrives as an
already enciphered PIN block produced by ``keys/``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Candidate:
    """One entry of the candidate list (Book 1, 12.4)."""

    aid: bytes  # DF name / ADF name from the card (4F or 84)
    label: str = ""  # 50
    preferred_name: str = ""  # 9F12 (shown only when the issuer code table is supported)
    priority: int = 0  # 87 b4-b1; 0 = no priority
    confirmation_required: bool = False  # 87 b8
    extra: Mapping[int, bytes] = field(default_factory=dict)  # 73 directory discretionary

    @property
    def display_name(self) -> str:
        return self.preferred_name or self.label or self.aid.hex().upper()


class PinKind(enum.Enum):
    OFFLINE_PLAINTEXT = "offline_plaintext"
    OFFLINE_ENCIPHERED = "offline_enciphered"
    ONLINE = "online"


class PinStatus(enum.Enum):
    ENTERED = "entered"
    BYPASSED = "bypassed"  # cardholder/attendant chose to skip PIN (Book 3, 10.5.4)
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    PINPAD_FAULT = "pinpad_fault"  # PIN pad not present or not working (Book 4, 6.3.4.1)


class OfflinePin(Protocol):
    """Opaque offline PIN: yields the 8-byte plaintext PIN block, never the digits.

    Book 3, 6.5.12: format '2N PP..PP FF..FF'. ``wipe()`` forgets it.
    """

    def offline_pin_block(self) -> bytes: ...

    def wipe(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PinRequest:
    kind: PinKind
    pan_masked: str
    amount: int
    currency_code: bytes
    try_counter: int | None = None  # 9F17 when known (offline PIN only)
    last_try: bool = False


@dataclass(frozen=True, slots=True, repr=False)
class PinEntry:
    """What PIN entry produced. ``offline`` for offline kinds, ``online_block`` for online."""

    status: PinStatus
    offline: OfflinePin | None = None
    online_block: bytes = b""  # enciphered ISO 9564 block from keys/
    ksn: bytes = b""  # DUKPT key serial number that enciphered it

    def __repr__(self) -> str:  # never show PIN material
        return f"PinEntry(status={self.status.value})"


@dataclass(frozen=True, slots=True)
class OnlineRequest:
    """Data for the authorisation request (ARQC and its DE 55 set)."""

    de55: Mapping[int, bytes]
    amount: int
    amount_other: int
    transaction_type: int
    pan_masked: str
    online_pin: PinEntry | None = None


@dataclass(frozen=True, slots=True)
class OnlineResponse:
    """The host's answer, already parsed out of ISO 8583 (Book 3, 10.9)."""

    approved: bool
    response_code: bytes  # 8A, two ASCII bytes as the host sent them (b"00")
    issuer_authentication_data: bytes = b""  # 91
    scripts: tuple[bytes, ...] = ()  # each a whole 71 or 72 template, tag included
    authorisation_code: bytes = b""  # 89


class DisplayMessage(enum.Enum):
    """Book 4, 11.2 standard messages (value = message identifier), plus LAST_PIN_TRY."""

    AMOUNT = 0x01
    AMOUNT_OK = 0x02
    APPROVED = 0x03
    CALL_YOUR_BANK = 0x04
    CANCEL_OR_ENTER = 0x05
    CARD_ERROR = 0x06
    DECLINED = 0x07
    ENTER_AMOUNT = 0x08
    ENTER_PIN = 0x09
    INCORRECT_PIN = 0x0A
    INSERT_CARD = 0x0B
    NOT_ACCEPTED = 0x0C
    PIN_OK = 0x0D
    PLEASE_WAIT = 0x0E
    PROCESSING_ERROR = 0x0F
    REMOVE_CARD = 0x10
    USE_CHIP_READER = 0x11
    USE_MAG_STRIPE = 0x12
    TRY_AGAIN = 0x13
    LAST_PIN_TRY = 0x80  # terminal-specific: Book 4 leaves the wording to the terminal


class KernelCallbacks(Protocol):
    """Implemented by the terminal (and by tests). All calls are synchronous."""

    def choose_application(self, candidates: Sequence[Candidate]) -> int | None:
        """Book 1, 12.4 step 3: the cardholder picks; index into ``candidates`` or None."""
        ...

    def confirm_application(self, candidate: Candidate) -> bool:
        """Book 1, 12.4 step 2: cardholder confirmation of the one candidate."""
        ...

    def enter_pin(self, request: PinRequest) -> PinEntry: ...

    def go_online(self, request: OnlineRequest) -> OnlineResponse | None:
        """None means unable to go online (Book 3, 10.9 / Book 4, 6.3.7)."""
        ...

    def split_sales_amount(self, pan_masked: str) -> int:
        """Book 3, 10.6.1: amount of recent approved transactions on this card (log), or 0."""
        ...

    def remove_card(self) -> None: ...

    def display(self, message: DisplayMessage) -> None: ...


class DefaultCallbacks:
    """A base with harmless defaults; subclass and override what you need."""

    def choose_application(self, candidates: Sequence[Candidate]) -> int | None:
        return 0 if candidates else None

    def confirm_application(self, candidate: Candidate) -> bool:
        return True

    def enter_pin(self, request: PinRequest) -> PinEntry:
        return PinEntry(PinStatus.PINPAD_FAULT)

    def go_online(self, request: OnlineRequest) -> OnlineResponse | None:
        return None

    def split_sales_amount(self, pan_masked: str) -> int:
        return 0

    def remove_card(self) -> None:
        return None

    def display(self, message: DisplayMessage) -> None:
        return None
