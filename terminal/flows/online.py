"""Sending one request for the flow: journal first, then the wire (write-ahead).

host-spec rule 1: the transaction row and its *armed* reversal are committed before
the request leaves; no valid response turns the armed reversal into a queued one
(``reversal_pending``); it is sent by the next command's recovery, before anything
else. A request that certainly never left (connect refused) owes no reversal.
"""

from __future__ import annotations

from collections.abc import Mapping

from terminal.flows.context import Outcome, TransactionContext
from terminal.flows.ports import Ports
from terminal.hostmsg import builders
from terminal.hostmsg.builders import Acceptor
from terminal.hostmsg.client import NoValidResponse, Response
from terminal.hostmsg.keysource import KeySession
from terminal.hostmsg.message import Message
from terminal.hostmsg.spec import response_text
from terminal.journal import NewTransaction, Transaction, TxnType
from terminal.machine import Trigger

PLACEHOLDER_STAN = "000000"  # replaced by the journal's STAN before sending


def scheme_of(ports: Ports, aid: bytes | None, pan: str | None) -> str | None:
    if aid:
        for entry in ports.config.aids:
            if aid.startswith(entry.aid) or entry.aid.startswith(aid):
                return entry.scheme
    if pan:
        first = pan[:1]
        return {"4": "visa", "5": "mastercard", "2": "mastercard", "3": "amex"}.get(first)
    return None


def build_request(
    ctx: TransactionContext,
    ports: Ports,
    *,
    icc: bytes | None = None,
    pin_block: bytes | None = None,
) -> Message:
    """The 0100/0200/0220 request of ``ctx`` (without KS and MAC: the client adds them)."""
    request = ctx.request
    card = ctx.card
    voids = None
    if request.type == "void" and ctx.original is not None:
        voids = ctx.original.type.value
    return builders.financial_request(
        request.type,
        stan=PLACEHOLDER_STAN,
        amount=ctx.amount,
        currency=ctx.merchant.currency_code,
        acceptor=Acceptor(ctx.merchant.tid, ctx.merchant.mid, ports.config.host.nii),
        when=ctx.when,
        entry_mode=ctx.entry_mode or "012",
        batch=ports.journal.current_batch(ctx.merchant.tid, ctx.merchant.mid),
        pos_condition=ctx.pos_condition,
        pan=card.pan if card else None,
        expiry=card.expiry if card else None,
        psn=card.psn if card else None,
        track2=card.track2 if card else None,
        pin_block=pin_block,
        icc=icc,
        rrn=request.rrn if request.type in ("void", "completion") else None,
        auth_code=request.auth_code if request.type in ("void", "completion") else None,
        operator=request.operator,
        qr=request.qr,
        voucher=request.voucher,
        voids=voids,
    )


def journal_new(
    ctx: TransactionContext, ports: Ports, *, emv: Mapping[int, bytes] | None = None
) -> NewTransaction:
    aid = ctx.kernel.aid if ctx.kernel is not None else None
    pan = ctx.card.pan if ctx.card else None
    return NewTransaction(
        merchant=ctx.merchant.name,
        tid=ctx.merchant.tid,
        mid=ctx.merchant.mid,
        type=TxnType(ctx.request.type),
        amount=ctx.amount,
        currency=ctx.merchant.currency_code[-3:],
        local_datetime=builders.datetime10(ctx.when),
        pan=pan,
        entry_mode=ctx.entry_mode,
        scheme=scheme_of(ports, aid, pan),
        operator=ctx.request.operator,
        original_id=ctx.original.id if ctx.original is not None else None,
        emv=dict(emv or {}),
    )


def create(
    ctx: TransactionContext,
    ports: Ports,
    message: Message | None,
    *,
    arm: bool,
    emv: Mapping[int, bytes] | None = None,
) -> Transaction:
    """Journal the transaction (with its armed reversal when ``arm``) and keep the row."""
    txn = ports.journal.create_transaction(
        journal_new(ctx, ports, emv=emv),
        mti=message.mti if message is not None else None,
        request=dict(message.fields) if message is not None else None,
        arm_reversal=arm,
    )
    ctx.txn = txn
    return txn


def send(
    ctx: TransactionContext,
    ports: Ports,
    message: Message,
    *,
    session: KeySession | None = None,
    final: bool = True,
    emv: Mapping[int, bytes] | None = None,
) -> Response | NoValidResponse:
    """Journal, send, journal the answer. ``final=False`` when the card still decides
    (chip: second GENERATE AC) — the reversal then stays armed until the flow finishes."""
    txn = create(ctx, ports, message, arm=True, emv=emv)
    ports.fire(Trigger.GO_ONLINE)
    outcome = ports.saf.exchange(message.with_fields(de11=txn.stan), session)
    journal = ports.journal
    if isinstance(outcome, NoValidResponse):
        ports.fire(Trigger.NO_VALID_RESPONSE)
        if outcome.sent:
            ctx.txn = journal.no_valid_response(txn.id, outcome.reason)
            ctx.reversal_pending = True
            ports.fire(Trigger.REVERSAL_STORED)
        else:
            ctx.txn = journal.not_sent(txn.id)
        return outcome
    ports.fire(Trigger.HOST_ANSWERED)
    ctx.response = outcome.message
    ctx.response_code = outcome.code
    ctx.balance = parse_balance(outcome.message.text(54))
    ctx.txn = journal.record_response(
        txn.id,
        approved=outcome.approved,
        fields=outcome.message.fields,
        final=final or not outcome.approved,
    )
    return outcome


def host_decision(
    ctx: TransactionContext, ports: Ports, outcome: Response | NoValidResponse
) -> Outcome:
    """The flow's outcome when the host's answer is final (no card to ask again)."""
    if isinstance(outcome, NoValidResponse):
        if outcome.sent:
            return Outcome.terminated(
                f"no valid response from host ({outcome.reason}); reversal stored"
            )
        assert ctx.txn is not None
        ctx.txn = ports.journal.terminate(ctx.txn.id, f"host unreachable ({outcome.reason})")
        return Outcome.terminated(f"host unreachable ({outcome.reason})")
    if outcome.approved:
        return Outcome.approved()
    return Outcome.declined(response_text(outcome.code))


def parse_balance(de54: str | None) -> int | None:
    """ISO 8583:1987 DE 54 additional amounts: the available balance (amount type 02),
    20 characters per block: account type (2), amount type (2), currency (3), C/D, 12."""
    if not de54:
        return None
    for start in range(0, len(de54) - 19, 20):
        block = de54[start : start + 20]
        if block[2:4] == "02" and block[8:].isdigit():
            value = int(block[8:])
            return -value if block[7] == "D" else value
    return None
