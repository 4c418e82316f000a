"""The receipt of a finished transaction: built from the context, printed, returned."""

from __future__ import annotations

import logging

from hal.ports import Align as HalAlign
from hal.ports import TextLine
from terminal.flows.context import TransactionContext
from terminal.flows.ports import Ports
from terminal.machine import Trigger
from terminal.receipts import Align, Copy, ReceiptData, render, render_text

log = logging.getLogger(__name__)

ENTRY_NAMES = {"01": "KEYED", "02": "SWIPE", "03": "QR", "05": "CHIP", "07": "CONTACTLESS",
               "80": "FALLBACK SWIPE", "91": "CONTACTLESS MSR"}  # fmt: skip
TYPE_NAMES = {"sale": "SALE", "refund": "REFUND", "void": "VOID", "preauth": "PRE-AUTH",
              "completion": "COMPLETION", "balance": "BALANCE", "topup": "TOP-UP"}  # fmt: skip
_ALIGN = {Align.LEFT: HalAlign.LEFT, Align.CENTER: HalAlign.CENTER, Align.RIGHT: HalAlign.RIGHT}


def receipt_data(ctx: TransactionContext) -> ReceiptData:
    kernel = ctx.kernel
    outcome = ctx.outcome
    approved = outcome is not None and outcome.decision == "approved"
    txn = ctx.txn
    chip = kernel is not None and bool(kernel.aid)
    return ReceiptData(
        merchant_name=ctx.merchant.name,
        header_lines=tuple(ctx.merchant.receipt_header),
        tid=ctx.merchant.tid,
        mid=ctx.merchant.mid,
        transaction_type=TYPE_NAMES.get(ctx.request.type, ctx.request.type.upper()),
        amount_minor=ctx.amount,
        currency_code=ctx.merchant.currency_code,
        timestamp=ctx.when.strftime("%Y-%m-%d %H:%M:%S"),
        approved=approved,
        masked_pan=ctx.pan_masked,
        entry_mode=ENTRY_NAMES.get((ctx.entry_mode or "")[:2]),
        aid=kernel.aid.hex().upper() if chip and kernel else ctx.notes.get("aid") or None,
        application_label=(kernel.receipt.get("application_label") or None)
        if chip and kernel
        else None,
        tvr=kernel.tvr.hex().upper() if chip and kernel else None,
        tsi=kernel.tsi.hex().upper() if chip and kernel else None,
        cryptogram_type=kernel.cryptogram_type or None if chip and kernel else None,
        cryptogram=kernel.cryptogram.hex().upper() or None if chip and kernel else None,
        cvm=ctx.cvm,
        auth_code=txn.auth_code if txn else None,
        rrn=txn.rrn if txn else None,
        stan=txn.stan if txn else None,
        batch=f"{txn.batch:06d}" if txn else None,
        response_code=ctx.response_code,
        decline_reason=None if approved or outcome is None else outcome.reason,
        balance_minor=ctx.balance,
        extra_lines=("REVERSAL PENDING",) if ctx.reversal_pending else (),
    )


def keep_for_reprint(ctx: TransactionContext, ports: Ports, merchant_copy: str) -> None:
    """Both rendered copies (masked already: first 6 / last 4, no track data, no PIN)
    go into the journal row's payload, so `posterm reprint` prints exactly what the
    customer got. One more journal write, after the outcome is durable."""
    if ctx.txn is None or not ctx.receipt:
        return
    try:
        extra = ports.journal.transaction(ctx.txn.id).extra
        ports.journal.set_extra(
            ctx.txn.id,
            {**extra, "receipt_customer": ctx.receipt, "receipt_merchant": merchant_copy},
        )
    except Exception as error:  # noqa: BLE001 - the outcome stands; only reprint is lost
        log.warning("receipt not kept for reprint: %s", type(error).__name__)


def print_receipt(ctx: TransactionContext, ports: Ports) -> None:
    """Customer copy into ``ctx.receipt``; merchant then customer copy to the printer.
    A printer fault never changes the transaction's outcome (it is already journaled)."""
    data = receipt_data(ctx)
    ctx.receipt = render_text(data, Copy.CUSTOMER)
    keep_for_reprint(ctx, ports, render_text(data, Copy.MERCHANT))
    if ports.printer is None:
        return
    try:
        for copy in (Copy.MERCHANT, Copy.CUSTOMER):
            items = [
                TextLine(line.text, _ALIGN[line.align], bold=line.bold, double_height=line.double)
                for line in render(data, copy)
            ]
            ports.printer.print(items)
        ports.fire(Trigger.PRINTED)
    except Exception as error:  # noqa: BLE001 - the receipt can be reprinted
        log.warning("printer: %s", type(error).__name__)
        ports.fire(Trigger.PRINTER_FAULT)
