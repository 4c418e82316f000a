"""What one transaction carries through the flow: the request, the card, the outcome.

A :class:`TransactionContext` is created per transaction and handed to every step
(``step(ctx, ports) -> Outcome | None``). It never holds a PIN; the full PAN and
track data sit only in :class:`CardData`, whose repr hides them, and are dropped with
the context (the journal keeps the PAN masked plus encrypted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from emv.outcome import KernelResult
from terminal.config import Merchant
from terminal.hostmsg.message import Message
from terminal.journal import Transaction, mask_pan
from terminal.receipts import CvmOutcome

TYPES = ("sale", "refund", "void", "preauth", "completion", "balance", "topup")
ENTRIES = ("chip", "contactless", "swipe", "keyed", "qr")
# Types whose amount the operator must give (completion defaults to the pre-auth's).
AMOUNT_REQUIRED = frozenset({"sale", "refund", "preauth", "topup"})


@dataclass(frozen=True, slots=True)
class TxnRequest:
    """The rig-contract transaction fields (``posterm pay`` flags, ECR JSON)."""

    type: str
    amount: int | None = None
    entry: str | None = None
    rrn: str | None = None
    auth_code: str | None = None
    merchant: str | None = None
    qr: str | None = field(default=None, repr=False)
    voucher: str | None = field(default=None, repr=False)
    operator: str | None = None

    @property
    def method(self) -> str:
        """How the payment is presented: an entry method, or ``voucher``."""
        if self.voucher is not None and self.entry is None:
            return "voucher"
        if self.qr is not None and self.entry is None:
            return "qr"
        return self.entry or "chip"


@dataclass(slots=True, repr=False)
class CardData:
    """Card data read from chip, stripe or keypad. Never logged (repr hides it)."""

    pan: str
    expiry: str | None = None  # YYMM (DE 14)
    psn: str | None = None  # 3 digits (DE 23)
    track2: str | None = None  # with '=' separator (DE 35)
    service_code: str | None = None

    def __repr__(self) -> str:
        return f"CardData(pan={mask_pan(self.pan)})"

    @property
    def masked(self) -> str:
        return mask_pan(self.pan)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A step's verdict that ends the flow: approved, declined or terminated."""

    decision: str
    reason: str | None = None

    @staticmethod
    def approved(reason: str | None = None) -> Outcome:
        return Outcome("approved", reason)

    @staticmethod
    def declined(reason: str) -> Outcome:
        return Outcome("declined", reason)

    @staticmethod
    def terminated(reason: str) -> Outcome:
        return Outcome("terminated", reason)


@dataclass(slots=True)
class TransactionContext:
    """Mutable state of one transaction from request to receipt."""

    request: TxnRequest
    merchant: Merchant
    when: dt.datetime
    entry_mode: str | None = None  # DE 22 as sent
    pos_condition: str = "normal"
    card: CardData | None = None
    original: Transaction | None = None  # what a void / completion refers to
    txn: Transaction | None = None  # the journal row
    kernel: KernelResult | None = None
    response: Message | None = None  # the host's valid answer
    response_code: str | None = None
    outcome: Outcome | None = None
    reversal_pending: bool = False
    balance: int | None = None
    cvm: CvmOutcome = CvmOutcome.NONE
    receipt: str = ""
    amount: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def pan_masked(self) -> str | None:
        if self.card is not None:
            return self.card.masked
        if self.kernel is not None and self.kernel.pan_masked:
            return self.kernel.pan_masked
        if self.original is not None:
            return self.original.pan_masked
        return None
