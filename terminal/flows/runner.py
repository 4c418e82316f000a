"""One transaction from request to receipt: the flow table and the result object.

Each transaction type is a tuple of steps ``step(ctx, ports) -> Outcome | None`` run in
order until one returns an :class:`Outcome`; the last step of every flow talks to the
host (or queues the advice) and always returns one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from terminal.flows import cardless, online
from terminal.flows.context import AMOUNT_REQUIRED, Outcome, TransactionContext, TxnRequest
from terminal.flows.ports import Ports
from terminal.flows.receipt import print_receipt
from terminal.machine import State, Trigger

Step = Callable[[TransactionContext, Ports], Outcome | None]


def check_amount(ctx: TransactionContext, ports: Ports) -> Outcome | None:
    amount = ctx.request.amount
    if amount is None and ctx.request.type in AMOUNT_REQUIRED:
        return Outcome.terminated("no amount")
    if amount is not None and not 0 <= amount <= 999_999_999_999:
        return Outcome.terminated("amount out of range")
    ctx.amount = amount or 0
    ports.fire(Trigger.AMOUNT_ENTERED)
    return None


# Contactless refund, balance and top-up only read the card (docs/flows.md): Kernel 3
# cards decide at GPO, so there is no first GENERATE AC to ask an AAC or ARQC of.
CONTACTLESS_READ_ONLY = frozenset({"refund", "balance", "topup"})


def capture(ctx: TransactionContext, ports: Ports) -> Outcome | None:
    """Card data for a transaction the host alone authorises."""
    method = ctx.request.method
    if method in ("chip", "contactless"):
        from terminal.flows import chip  # the kernel loads with the first card (RSS at IDLE)

        return chip.read_card(ctx, ports)
    if method == "swipe":
        return cardless.read_swipe(ctx, ports)
    if method == "keyed":
        return cardless.keyed(ctx, ports)
    return cardless.code_entry(ctx, ports)


def pay(ctx: TransactionContext, ports: Ports) -> Outcome | None:
    """Sale, pre-auth, refund, balance, top-up: the EMV kernel for chip, the host alone
    otherwise; a chip failure with fallback allowed continues with a swipe (DE 22 80)
    when a reader is fitted."""
    method = ctx.request.method
    if method == "contactless" and ctx.request.type in CONTACTLESS_READ_ONLY:
        return capture(ctx, ports)
    if method in ("chip", "contactless"):
        from terminal.flows import chip

        outcome = chip.emv_payment(ctx, ports)
        fallback = ctx.notes.get("fallback_allowed") and ports.magstripe is not None
        if outcome.decision != "terminated" or not fallback:
            return outcome
        ports.fire(Trigger.FALLBACK)
        ctx.txn = None
        stop = cardless.read_swipe(ctx, ports, chip_failed=True)
        return stop if stop is not None else authorise(ctx, ports)
    stop = capture(ctx, ports)
    return stop


def authorise(ctx: TransactionContext, ports: Ports) -> Outcome:
    """One online request; the host's answer is final (no card to ask again)."""
    if ctx.request.type == "completion":
        return complete(ctx, ports)
    message = online.build_request(ctx, ports)
    return online.host_decision(ctx, ports, online.send(ctx, ports, message))


def complete(ctx: TransactionContext, ports: Ports) -> Outcome:
    """Pre-authorisation completion: a 0220 advice stored with the approval in one
    commit (host-spec rule 2), then sent at once when the host is there."""
    message = online.build_request(ctx, ports)
    txn = online.create(ctx, ports, message, arm=False)
    fields = {**dict(message.fields), 11: txn.stan}
    ctx.txn = ports.journal.complete_offline(
        txn.id,
        approved=True,
        advice=fields,
        advice_kind="completion",
        rrn=ctx.request.rrn,
        auth_code=ctx.request.auth_code,
    )
    ports.fire(Trigger.GO_ONLINE)
    ports.saf.drain(force=True)
    code = advice_code(ports, txn.id)
    ctx.response_code = code
    ctx.txn = ports.journal.transaction(txn.id)
    if code is None:
        return Outcome.approved("completion stored; it is sent as soon as the host answers")
    return Outcome.approved()


def advice_code(ports: Ports, txn_id: int) -> str | None:
    """The 0230's response code of a transaction's advice, once acknowledged."""
    return ports.journal.advice_response(txn_id)


# ``pay`` ends a chip transaction itself (the kernel decides, or the refund's AAC goes
# online); ``authorise`` runs only after card data capture (swipe, keyed, QR, voucher,
# contactless refund / balance / top-up, fallback).
FLOWS: dict[str, tuple[Step, ...]] = {
    "sale": (check_amount, pay, authorise),
    "preauth": (check_amount, pay, authorise),
    "refund": (check_amount, pay, authorise),
    "balance": (check_amount, pay, authorise),
    "topup": (check_amount, pay, authorise),
    "void": (check_amount, cardless.find_original, authorise),
    "completion": (check_amount, cardless.find_original, authorise),
}


def run_flow(request: TxnRequest, ports: Ports) -> TransactionContext:
    """Run one transaction and print its receipt; never raises for a business outcome."""
    merchant = ports.config.merchant(request.merchant)
    ctx = TransactionContext(request=request, merchant=merchant, when=ports.now())
    ports.fire(Trigger.START_TRANSACTION)
    ports.cancelled.clear()
    outcome: Outcome | None = None
    for step in FLOWS[request.type]:
        if ports.cancelled.is_set() and ctx.txn is None:
            outcome = Outcome.terminated("cancelled")
            break
        outcome = step(ctx, ports)
        if outcome is not None:
            break
    if outcome is None:
        outcome = Outcome.terminated("flow ended without a decision")
    ctx.outcome = outcome
    if not ctx.reversal_pending:
        ctx.reversal_pending = ports.journal.reversal_pending()
    if outcome.decision != "approved" and ctx.txn is None:
        ports.fire(Trigger.CANCEL)  # nothing journaled: back out (IDLE or remove card)
    ports.fire(Trigger.CARD_DECIDED)  # host-only and card-less flows reach RECEIPT too
    print_receipt(ctx, ports)
    if ports.machine.state is State.RECEIPT:
        ports.fire(Trigger.RECEIPT_HELD)  # no printer / printer fault: reprint later
    ports.fire(Trigger.CARD_REMOVED)
    return ctx


def result_object(ctx: TransactionContext) -> dict[str, Any]:
    """The rig-contract result (``posterm pay`` stdout, ECR answer)."""
    kernel = ctx.kernel
    txn = ctx.txn
    outcome = ctx.outcome or Outcome.terminated("not run")
    chip_ran = kernel is not None and bool(kernel.aid)
    return {
        "decision": outcome.decision,
        "reason": outcome.reason,
        "type": ctx.request.type,
        "amount": ctx.amount if ctx.request.amount is not None or ctx.original else None,
        "currency": ctx.merchant.currency_code,
        "pan": ctx.pan_masked,
        "entry_mode": ctx.entry_mode,
        "stan": txn.stan if txn else None,
        "rrn": txn.rrn if txn else None,
        "auth_code": txn.auth_code if txn else None,
        "response_code": ctx.response_code,
        "tvr": kernel.tvr.hex().upper() if chip_ran and kernel else None,
        "tsi": kernel.tsi.hex().upper() if chip_ran and kernel else None,
        "cvm_results": kernel.cvm_results.hex().upper() if chip_ran and kernel else None,
        "cryptogram_type": (kernel.cryptogram_type or None) if chip_ran and kernel else None,
        "aid": kernel.aid.hex().upper() if chip_ran and kernel else None,
        "reversal_pending": ctx.reversal_pending,
        "balance": ctx.balance,
        "receipt": ctx.receipt,
    }
