"""Transaction flows: sale, refund, void, pre-authorisation, completion, balance and
top-up, by chip, contactless, swipe, keyed, QR or voucher (docs/flows.md)."""

from terminal.flows.context import ENTRIES, TYPES, Outcome, TransactionContext, TxnRequest
from terminal.flows.ports import Ports
from terminal.flows.runner import FLOWS, result_object, run_flow

__all__ = [
    "ENTRIES",
    "FLOWS",
    "TYPES",
    "Outcome",
    "Ports",
    "TransactionContext",
    "TxnRequest",
    "result_object",
    "run_flow",
]
