"""Cardholder verification as a kernel step (EMV 4.4 Book 3, 10.5; Book 4, 6.3.4).

The CVM List is walked rule by rule; CVM Results (9F34), TVR byte 3 and the
TSI are set as Book 4 Table 2 lays out.
"""

from __future__ import annotations

from emv.bits import AIP, TSI, TVR, CvmList, CvmOutcome, CvRule, FieldLengthError
from emv.callbacks import KernelCallbacks
from emv.context import TransactionContext, TransactionType
from emv.cvm.pin import PinSession, offline_pin, online_pin
from emv.cvm.rules import Caps as TerminalCapabilities
from emv.cvm.rules import (
    CvmFacts,
    Method,
    MethodKind,
    evaluate_condition,
    method_of,
    parse_cvm_list,
)
from emv.outcome import Outcome, TerminationReason
from emv.transport import CardTransport

NO_CVM_PERFORMED = 0x3F  # Book 4, Annex A4
CASH_TYPES = (TransactionType.CASH, 0x17)  # 9C '01' cash, '17' cash disbursement


def facts(ctx: TransactionContext) -> CvmFacts:
    """The Table 44 facts of this transaction."""
    raw_caps = ctx.terminal.get(0x9F33, ctx.config.terminal.capabilities)
    terminal_type = ctx.config.terminal.terminal_type
    kind = ctx.txn.transaction_type
    cash = ctx.txn.cash or kind in CASH_TYPES
    return CvmFacts(
        amount=ctx.txn.amount,
        transaction_currency=ctx.terminal.get(0x5F2A, b""),
        application_currency=ctx.card.get(0x9F42),
        attended=terminal_type & 0x0F in (1, 2, 3),  # Book 4, Annex A1 Table 24
        cash=cash,
        cashback=kind == TransactionType.PURCHASE_WITH_CASHBACK
        or (ctx.txn.amount_other > 0 and not cash),
        capabilities=TerminalCapabilities(int.from_bytes(raw_caps[:3].rjust(3, b"\0"), "big")),
    )


def _perform_method(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    method: Method,
    session: PinSession,
) -> CvmOutcome | Outcome:
    kind = method.kind
    if kind is MethodKind.FAIL:
        return CvmOutcome.FAILED
    if kind is MethodKind.NO_CVM:
        return CvmOutcome.SUCCESSFUL  # Book 4, 6.3.4.5
    if kind is MethodKind.SIGNATURE:
        ctx.signature_required = True  # Book 4, 6.3.4.4: signature line on the receipt
        return CvmOutcome.UNKNOWN
    if kind is MethodKind.ONLINE_PIN:
        return online_pin(ctx, callbacks, session)
    enciphered = kind is MethodKind.OFFLINE_ENCIPHERED_PIN
    result = offline_pin(ctx, transport, callbacks, session, enciphered)
    if method.with_signature and result is CvmOutcome.SUCCESSFUL:
        # Book 4 Table 2: a combination with one part passed and one unknown is unknown
        ctx.signature_required = True
        return CvmOutcome.UNKNOWN
    return result


def _results(rule: CvRule, outcome: CvmOutcome) -> bytes:
    return rule.to_bytes() + bytes((outcome,))


def perform(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    """# EMV 4.4 Book 3, 10.5 Cardholder Verification."""
    ctx.step = "cvm"
    no_cvm = bytes((NO_CVM_PERFORMED, 0x00, CvmOutcome.UNKNOWN))
    if AIP.CARDHOLDER_VERIFICATION_SUPPORTED not in ctx.aip:
        ctx.cvm_results = no_cvm  # Book 4 Table 2, row 1
        return None
    raw = ctx.card.get(0x8E)
    if raw is None or len(raw) == 8:
        # Book 3, 10.5: no CVM List (or one without rules) - the TSI is not set
        ctx.tvr |= TVR.ICC_DATA_MISSING
        ctx.cvm_results = no_cvm
        return None
    try:
        cvm_list = parse_cvm_list(raw)
    except FieldLengthError:
        return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, "CVM List length")
    return _walk(ctx, transport, callbacks, cvm_list)


def _walk(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    cvm_list: CvmList,
) -> Outcome | None:
    known = facts(ctx)
    session = PinSession()
    last: bytes | None = None  # CVM Results of the last CVM performed
    ctx.tsi |= TSI.CARDHOLDER_VERIFICATION_PERFORMED
    for rule in cvm_list.rules:
        if not evaluate_condition(rule, cvm_list, known):
            continue  # bypass the rule
        method = method_of(rule.code)
        if method is None:
            ctx.tvr |= TVR.UNRECOGNISED_CVM
        elif not method.supported(known.capabilities):
            if method.pin_pad_missing(known.capabilities):
                ctx.tvr |= TVR.PIN_PAD_NOT_PRESENT_OR_NOT_WORKING
        else:
            outcome = _perform_method(ctx, transport, callbacks, method, session)
            if isinstance(outcome, Outcome):
                return outcome
            last = _results(rule, outcome)
            if outcome is not CvmOutcome.FAILED:
                ctx.cvm_results = last
                return None
        if not rule.apply_succeeding_if_unsuccessful:
            break
    # Book 4, 6.3.4.5: cardholder verification failed
    ctx.tvr |= TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL
    ctx.cvm_results = last or bytes((NO_CVM_PERFORMED, 0x00, CvmOutcome.FAILED))
    return None
