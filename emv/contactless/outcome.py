"""The contactless Outcome parameter set and the contactless result.

EMV Contactless Book A, 6.2 defines how a kernel or Entry Point ends: an Outcome
(Approved, Declined, Online Request, ...) with parameters telling the reader what to
do next (restart at Start B/C/D, show a message, collect a signature). The terminal
also wants the contact kernel's :class:`~emv.outcome.KernelResult` shape (decision,
TVR, DE 55, receipt), so :class:`ContactlessResult` is a ``KernelResult`` with the
Outcome parameter set added.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from emv.outcome import KernelResult


class OutcomeKind(enum.Enum):
    """Book A, 6.2.1 Outcome values."""

    APPROVED = "approved"
    DECLINED = "declined"
    ONLINE_REQUEST = "online request"
    END_APPLICATION = "end application"
    SELECT_NEXT = "select next"
    TRY_ANOTHER_INTERFACE = "try another interface"
    TRY_AGAIN = "try again"


class Start(enum.Enum):
    """Book A, 6.2.1 / Book B, 3.5: where Entry Point restarts (NA = it does not)."""

    NA = "N/A"
    A = "A"  # pre-processing
    B = "B"  # protocol activation (card presented again)
    C = "C"  # combination selection (next combination)
    D = "D"  # kernel activation with online response data


class Cvm(enum.Enum):
    """Book A, 6.2.1 Outcome parameter 'CVM'."""

    NA = "N/A"
    NO_CVM = "no CVM"
    ONLINE_PIN = "online PIN"
    OBTAIN_SIGNATURE = "obtain signature"
    CONFIRMATION_CODE_VERIFIED = "confirmation code verified"  # consumer device CVM


class AlternateInterface(enum.Enum):
    """Book A, 6.2.1 'Alternate Interface Preference'."""

    NA = "N/A"
    CONTACT_CHIP = "contact chip"
    MAGSTRIPE = "magstripe"


class UiMessage(enum.IntEnum):
    """Book A, 9.4 Table 9-5 standard message identifiers."""

    APPROVED = 0x03
    NOT_AUTHORISED = 0x07
    ENTER_PIN = 0x09
    PROCESSING_ERROR = 0x0F
    REMOVE_CARD = 0x10
    PRESENT_CARD = 0x15
    PROCESSING = 0x16
    CARD_READ_OK = 0x17
    INSERT_OR_SWIPE = 0x18
    PRESENT_ONE_CARD_ONLY = 0x19
    APPROVED_PLEASE_SIGN = 0x1A
    AUTHORISING = 0x1B
    INSERT_SWIPE_OR_TRY_ANOTHER_CARD = 0x1C
    INSERT_CARD = 0x1D
    NO_MESSAGE = 0x1E
    SEE_PHONE = 0x20
    PRESENT_CARD_AGAIN = 0x21


class UiStatus(enum.Enum):
    """Book A, 9.2 User Interface Request Data 'Status'."""

    NOT_READY = "not ready"
    IDLE = "idle"
    READY_TO_READ = "ready to read"
    PROCESSING = "processing"
    CARD_READ_SUCCESSFULLY = "card read successfully"
    PROCESSING_ERROR = "processing error"


@dataclass(frozen=True, slots=True)
class UiRequest:
    """Book A, 9.2 User Interface Request Data (the parts a handset shows)."""

    message: UiMessage
    status: UiStatus = UiStatus.NOT_READY
    hold_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class OutcomeParameters:
    """Book A, 6.2.1 Outcome Parameter Set."""

    outcome: OutcomeKind
    start: Start = Start.NA
    online_response_data: str = "N/A"  # Book A: 'EMV Data', 'Any', 'N/A'
    cvm: Cvm = Cvm.NA
    ui_on_outcome: UiRequest | None = None
    ui_on_restart: UiRequest | None = None
    data_record_present: bool = False
    alternate_interface: AlternateInterface = AlternateInterface.NA
    receipt: bool = False
    field_off_request_ms: int | None = None
    detail: str = ""  # why, without secrets (status word, tag, rule)


@dataclass(frozen=True, slots=True)
class ContactlessResult(KernelResult):
    """A :class:`~emv.outcome.KernelResult` plus what only contactless has."""

    outcome: OutcomeParameters = field(
        default_factory=lambda: OutcomeParameters(OutcomeKind.END_APPLICATION)
    )
    kernel_id: int = 0  # Book B, 3.3.2.5 Kernel Identifier (2 = C-2, 3 = C-3)
    entry_mode: int = 0x07  # ISO 8583 DE 22 / 9F39 '07': contactless chip
    ttq: bytes = b""  # 9F66 as sent for the selected combination
    restarts: int = 0  # Start B/C restarts taken inside this call
