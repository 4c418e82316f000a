"""How a transaction ends: the documented outcomes and the kernel's result.

A step returns ``None`` to let the transaction go on, or an :class:`Outcome` to
end it. Business endings (decline, termination, fallback) are values, never
exceptions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Decision(enum.Enum):
    APPROVED_OFFLINE = "approved_offline"
    APPROVED_ONLINE = "approved_online"
    DECLINED_OFFLINE = "declined_offline"
    DECLINED_ONLINE = "declined_online"
    TERMINATED = "terminated"

    @property
    def approved(self) -> bool:
        return self in (Decision.APPROVED_OFFLINE, Decision.APPROVED_ONLINE)


class TerminationReason(enum.Enum):
    """Why a transaction was terminated (Book 1, 12; Book 3, 7.5/10; Book 4)."""

    NO_COMMON_APPLICATION = "no common application"
    CARD_BLOCKED = "card blocked"  # 6A81 to SELECT PSE / first SELECT
    APPLICATION_BLOCKED = "application blocked"
    CARD_ERROR = "card error"  # unexpected status word, malformed data
    CARD_REMOVED = "card removed"  # transport failure
    MISSING_MANDATORY_DATA = "missing mandatory data"
    DATA_FORMAT_ERROR = "card data format error"
    CONDITIONS_NOT_SATISFIED = "conditions of use not satisfied"  # GPO 6985 everywhere
    CANCELLED = "cancelled"
    NOT_ACCEPTED = "not accepted"  # card answered GENERATE AC with an invalid response
    CDA_FAILED = "combined DDA/AC generation failed"
    SERVICE_NOT_ALLOWED = "service not allowed"  # CID 'service not allowed'
    USE_CHIP = "chip card swiped; insert the card"
    FALLBACK = "chip failure; magnetic stripe fallback allowed"
    TRY_ANOTHER_INTERFACE = "try another interface"  # contactless, Book A 6.2.1
    TRY_AGAIN = "try again"  # contactless: present the card again (Book A 6.2.1)
    INTERNAL = "internal kernel error"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A step's verdict that ends the transaction."""

    decision: Decision
    reason: TerminationReason | None = None
    detail: str = ""  # free text without secrets (status word, tag)
    fallback_allowed: bool = False  # the terminal may offer magstripe (entry mode 80)

    @staticmethod
    def terminate(
        reason: TerminationReason, detail: str = "", *, fallback: bool = False
    ) -> Outcome:
        return Outcome(Decision.TERMINATED, reason, detail, fallback)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One exchange with the card, already masked (see :mod:`emv.trace`)."""

    step: str
    command: bytes
    response: bytes  # data + SW1 SW2, masked
    description: str = ""  # decoded summary, masked


@dataclass(frozen=True, slots=True)
class KernelResult:
    """Everything the terminal needs after the kernel ran (all masked where sensitive)."""

    decision: Decision
    reason: TerminationReason | None
    detail: str
    tvr: bytes  # 95, 5 bytes
    tsi: bytes  # 9B, 2 bytes
    cvm_results: bytes  # 9F34, 3 bytes
    cryptogram: bytes  # 9F26 of the last GENERATE AC
    cid: int | None  # 9F27 of the last GENERATE AC
    aid: bytes  # 84/4F of the selected application, b"" if none
    de55: bytes  # ICC system related data, TLV encoded, for ISO 8583 DE 55
    de55_tags: Mapping[int, bytes] = field(default_factory=dict)
    receipt: Mapping[str, str] = field(default_factory=dict)
    trace: tuple[TraceEntry, ...] = ()
    fallback_allowed: bool = False
    signature_required: bool = False
    pan_masked: str = ""
    online_response: Mapping[str, str] = field(default_factory=dict)
    advice_required: bool = False  # CID b4 of the last GENERATE AC (Book 3, Table 15)

    @property
    def approved(self) -> bool:
        return self.decision.approved

    @property
    def cryptogram_type(self) -> str:
        """'TC', 'ARQC', 'AAC' from CID b8-b7 (Book 3, Table 15), or ''."""
        if self.cid is None:
            return ""
        return {0x00: "AAC", 0x40: "TC", 0x80: "ARQC"}.get(self.cid & 0xC0, "")
