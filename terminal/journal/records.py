"""What the journal hands back: frozen rows, never a PAN in clear, never a secret."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """Life of one transaction row.

    pending → approved | declined | terminated | reversal_pending; reversal_pending →
    reversed (0410 or 94 received); approved → voided (an approved void of it) or
    reversal_pending (card declined after host approval is decided before approval, see
    :meth:`Journal.record_response`).
    """

    PENDING = "pending"  # created; request maybe sent, outcome not recorded
    APPROVED = "approved"
    DECLINED = "declined"
    TERMINATED = "terminated"  # ended before any approval (no host or card approval)
    REVERSAL_PENDING = "reversal_pending"  # a reversal is queued, not yet acknowledged
    REVERSED = "reversed"
    VOIDED = "voided"

    @property
    def public(self) -> str:
        """The rig-contract status (`posterm journal`): approved, declined, reversed,
        voided or pending."""
        return _PUBLIC[self]


_PUBLIC = {
    Status.PENDING: "pending",
    Status.APPROVED: "approved",
    Status.DECLINED: "declined",
    Status.TERMINATED: "declined",
    Status.REVERSAL_PENDING: "pending",
    Status.REVERSED: "reversed",
    Status.VOIDED: "voided",
}


class TxnType(enum.StrEnum):
    SALE = "sale"
    REFUND = "refund"
    VOID = "void"
    PREAUTH = "preauth"
    COMPLETION = "completion"
    BALANCE = "balance"
    TOPUP = "topup"


# host-spec DE 74/76: debits are sales, completions, top-ups; credits are refunds.
DEBIT_TYPES = frozenset({TxnType.SALE, TxnType.COMPLETION, TxnType.TOPUP})
CREDIT_TYPES = frozenset({TxnType.REFUND})

Fields = dict[int, "str | bytes"]


@dataclass(frozen=True, slots=True)
class NewTransaction:
    """What the flows know when a transaction starts (before anything is sent)."""

    merchant: str
    tid: str
    mid: str
    type: TxnType
    amount: int
    currency: str  # 3 digits
    local_datetime: str  # MMDDhhmmss, the DE 13 + DE 12 the request carries
    pan: str | None = None  # full PAN: stored masked + encrypted only
    entry_mode: str | None = None
    scheme: str | None = None
    operator: str | None = None
    original_id: int | None = None  # the transaction a void / completion refers to
    offline: bool = False
    emv: dict[int, bytes] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transaction:
    id: int
    merchant: str
    tid: str
    mid: str
    batch: int
    type: TxnType
    amount: int
    currency: str
    status: Status
    stan: str
    mti: str | None
    local_datetime: str
    rrn: str | None
    auth_code: str | None
    response_code: str | None
    entry_mode: str | None
    scheme: str | None
    pan_masked: str | None
    original_id: int | None
    offline: bool
    operator: str | None
    reason: str | None
    request: Fields
    response: Fields
    emv: dict[int, bytes]
    extra: dict[str, Any]
    settled: bool
    created_at: float
    updated_at: float
    has_pan: bool = False

    def masked(self) -> dict[str, Any]:
        """The rig-contract JSON line of `posterm journal --json` (masked)."""
        return {
            "id": self.id,
            "type": self.type.value,
            "amount": self.amount,
            "currency": self.currency,
            "stan": self.stan,
            "rrn": self.rrn,
            "auth_code": self.auth_code,
            "response_code": self.response_code,
            "merchant": self.merchant,
            "tid": self.tid,
            "batch": self.batch,
            "status": self.status.public,
            "state": self.status.value,
            "reversal_pending": self.status is Status.REVERSAL_PENDING,
            "pan": self.pan_masked,
            "entry_mode": self.entry_mode,
            "scheme": self.scheme,
            "offline": self.offline,
            "original_id": self.original_id,
            "settled": self.settled,
            "reason": self.reason,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class QueuedReversal:
    id: int
    txn_id: int
    stan: str  # the reversal's own STAN
    reason: str | None
    attempts: int  # 0 → send as 0400, otherwise 0401


@dataclass(frozen=True, slots=True)
class QueuedAdvice:
    id: int
    txn_id: int
    kind: str
    fields: Fields
    attempts: int


@dataclass(frozen=True, slots=True)
class OpenSettlement:
    """A settlement attempt journaled before its 0500 and not yet closed or refused."""

    id: int
    tid: str
    mid: str
    merchant: str
    batch: int
    state: str  # requested (0500 may have left) or uploading (0320s under way)
    uploaded: int


@dataclass(frozen=True, slots=True)
class Totals:
    debit_count: int = 0
    debit_amount: int = 0
    credit_count: int = 0
    credit_amount: int = 0

    def add(self, txn_type: TxnType, amount: int) -> Totals:
        if txn_type in DEBIT_TYPES:
            return Totals(
                self.debit_count + 1,
                self.debit_amount + amount,
                self.credit_count,
                self.credit_amount,
            )
        if txn_type in CREDIT_TYPES:
            return Totals(
                self.debit_count,
                self.debit_amount,
                self.credit_count + 1,
                self.credit_amount + amount,
            )
        return self


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    role: str
    hash: bytes
    salt: bytes
    params: str
    failures: int
    locked_until: float
    created_at: float
    created_by: str | None

    def __repr__(self) -> str:  # the hash is not a secret by itself, but keep logs clean
        return f"Operator(id={self.id!r}, role={self.role!r}, failures={self.failures})"
