"""The terminal's durable store: transactions, reversal and advice queues, counters,
batches, operators and the audit trail in one SQLite file (see docs/terminal-core.md)."""

from terminal.journal.pan import PanCipherError, mask_pan
from terminal.journal.records import (
    CREDIT_TYPES,
    DEBIT_TYPES,
    NewTransaction,
    OpenSettlement,
    Operator,
    QueuedAdvice,
    QueuedReversal,
    Status,
    Totals,
    Transaction,
    TxnType,
)
from terminal.journal.store import Journal, JournalBusy, JournalError

__all__ = [
    "CREDIT_TYPES",
    "DEBIT_TYPES",
    "Journal",
    "JournalBusy",
    "JournalError",
    "NewTransaction",
    "OpenSettlement",
    "Operator",
    "PanCipherError",
    "QueuedAdvice",
    "QueuedReversal",
    "Status",
    "Totals",
    "Transaction",
    "TxnType",
    "mask_pan",
]
