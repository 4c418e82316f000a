"""Payments without a chip read: swipe (with the fallback rules), keyed (MOTO), QR and
voucher codes, and the look-up of the original a void or completion refers to."""

from __future__ import annotations

from dataclasses import replace

from emv.magstripe import SwipeAction, Track2Error, parse_track2, swipe_decision
from hal.events import InputRejected, MagstripeSwiped
from terminal.flows.context import CardData, Outcome, TransactionContext, TxnRequest
from terminal.flows.ports import Ports
from terminal.hostmsg.spec import entry_mode
from terminal.journal import Status, Transaction, TxnType
from terminal.machine import Trigger


def read_swipe(
    ctx: TransactionContext, ports: Ports, *, chip_failed: bool = False
) -> Outcome | None:
    """Wait for a swipe; EMV Book 4, 6.3.1: a chip card (service code 2xx/6xx) swiped
    first is sent to the chip reader; after a chip failure the swipe is a fallback
    (DE 22 80) when the kernel allowed it."""
    if ports.magstripe is None:
        return Outcome.terminated("no magnetic stripe reader configured")
    event = ports.queue.wait_for(
        lambda e: isinstance(e, MagstripeSwiped | InputRejected), timeout=ports.card_timeout
    )
    if event is None:
        return Outcome.terminated("no card swiped")
    if isinstance(event, InputRejected):
        return Outcome.terminated(f"bad swipe: {event.reason}")
    assert isinstance(event, MagstripeSwiped)
    if not event.track2:
        return Outcome.terminated("bad swipe: no track 2")
    try:
        track = parse_track2(event.track2)
    except Track2Error as error:
        return Outcome.terminated(f"bad swipe: {error}")
    fallback_ok = bool(ctx.notes.get("fallback_allowed", chip_failed))
    decision = swipe_decision(track, chip_failed=chip_failed, fallback_allowed=fallback_ok)
    if decision.action is SwipeAction.INSERT_CARD:
        return Outcome.terminated("chip card: insert the card")
    if decision.action is SwipeAction.REFUSE:
        return Outcome.terminated("chip failed and fallback is not allowed")
    ports.fire(Trigger.CARD_SWIPED)
    method = "fallback" if decision.action is SwipeAction.FALLBACK else "swipe"
    ctx.entry_mode = entry_mode(method, ports.pinpad is not None)
    ctx.card = CardData(
        pan=track.pan,
        expiry=track.expiry,
        track2=event.track2,
        service_code=track.service_code,
    )
    return None


def keyed(ctx: TransactionContext, ports: Ports) -> Outcome | None:
    """Mail/telephone order: PAN and expiry keyed (``PAN=YYMM``); DE 22 01, DE 25 08."""
    if ports.keyed_entry is None:
        return Outcome.terminated("no keyed entry available")
    text = ports.keyed_entry()
    if not text:
        return Outcome.terminated("no card number keyed")
    pan, _, expiry = text.strip().partition("=")
    if not pan.isdigit() or not 12 <= len(pan) <= 19 or not _luhn(pan):
        return Outcome.terminated("keyed card number is not valid")
    if expiry and (len(expiry) != 4 or not expiry.isdigit()):
        return Outcome.terminated("keyed expiry must be YYMM")
    ports.fire(Trigger.PAN_KEYED)
    ctx.card = CardData(pan=pan, expiry=expiry or None)
    ctx.entry_mode = entry_mode("keyed", ports.pinpad is not None)
    ctx.pos_condition = "moto"
    return None


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def code_entry(ctx: TransactionContext, ports: Ports) -> Outcome | None:
    """QR (consumer-presented, DE 48 QR) or voucher (DE 48 VC): no DE 2, DE 22 03."""
    request = ctx.request
    if request.method == "qr" and not request.qr:
        return Outcome.terminated("no QR code given")
    if request.method == "voucher" and not request.voucher:
        return Outcome.terminated("no voucher code given")
    ports.fire(Trigger.QR_SCANNED)
    ctx.entry_mode = entry_mode("qr", ports.pinpad is not None)
    return None


def find_original(ctx: TransactionContext, ports: Ports) -> Outcome | None:
    """Void: an approved sale or refund of this merchant's OPEN batch with that RRN.
    Completion: an approved pre-authorisation with that RRN. Not found → declined
    locally with reason 'original not found' and nothing is sent (docs/flows.md)."""
    request = ctx.request
    if not request.rrn:
        return Outcome.declined("original not found: --rrn is required")
    kinds = (TxnType.SALE, TxnType.REFUND) if request.type == "void" else (TxnType.PREAUTH,)
    batch = ports.journal.current_batch(ctx.merchant.tid, ctx.merchant.mid)
    found: Transaction | None = None
    for txn in ports.journal.search(merchant=ctx.merchant.name, rrn=request.rrn):
        if txn.type not in kinds or txn.status is not Status.APPROVED:
            continue
        if request.auth_code and txn.auth_code and txn.auth_code != request.auth_code:
            continue
        if request.type == "void" and (txn.batch != batch or txn.settled):
            continue
        found = txn
        break
    if found is None:
        return Outcome.declined("original not found (25)")
    ctx.original = found
    if request.type == "void" or request.amount is None:
        ctx.amount = found.amount
    pan = ports.journal.pan(found.id)
    if pan:
        ctx.card = CardData(pan=pan, expiry=_text(found.request.get(14)))
    ctx.entry_mode = found.entry_mode or "012"
    ctx.request = _with_codes(ctx, found)
    return None


def _text(value: str | bytes | None) -> str | None:
    return value if isinstance(value, str) else None


def _with_codes(ctx: TransactionContext, found: Transaction) -> TxnRequest:
    return replace(ctx.request, rrn=found.rrn, auth_code=ctx.request.auth_code or found.auth_code)
