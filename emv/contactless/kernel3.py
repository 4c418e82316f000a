"""Kernel 3: Visa qVSDC (EMV Contactless Book C-3).

The card decides in GET PROCESSING OPTIONS: its response carries the cryptogram
(ARQC, TC or AAC), so the reader only reads records, checks fDDA for offline
approvals and settles the CVM from the Card Transaction Qualifiers. There is no
GENERATE AC and no second cryptogram.
"""

from __future__ import annotations

from emv import dol
from emv.bits import AIP, CTQ, TTQ, TVR, FieldLengthError
from emv.callbacks import KernelCallbacks
from emv.contactless.activation import (
    Activation,
    KernelOutcome,
    card_read_complete,
    end_application,
    finish,
    get_processing_options,
    outcome,
    select_next,
    try_another_interface,
)
from emv.contactless.fdda import FddaResult, verify_fdda
from emv.contactless.outcome import Cvm, OutcomeKind, Start, UiMessage
from emv.context import TransactionContext, TransactionType
from emv.cvm.step import CASH_TYPES
from emv.errors import EmvError
from emv.outcome import TerminationReason
from emv.read_data import read_application_data
from emv.restrictions import parse_yymmdd
from emv.risk import check_exception_file
from emv.tlv import TlvError, decode, walk
from emv.transport import CardTransport

TAG_TTQ = 0x9F66
TAG_CTQ = 0x9F6C
CID_AAC, CID_TC, CID_ARQC = 0x00, 0x40, 0x80
# Book C-3, 5.4.3: objects a qVSDC card must return (format 2 GPO, then records)
GPO_MANDATORY = (0x82, 0x9F36, 0x9F26, 0x9F10)
RECORD_MANDATORY = (0x57,)

# Book C-3, 5.2.2.2 / 5.4.2: GPO status words and the Outcome each one gives
SW_CONDITIONS = 0x6985  # card refuses this reader's TTQ - next combination
SW_TRY_ANOTHER_INTERFACE = 0x6984  # card wants the contact interface
SW_SEE_PHONE = 0x6986  # a consumer device asks for its own CVM (Book C-3 5.4.2)

# Book C-3, 5.7 Table 5-5: 9F34 written for receipts and DE 55 (Book 4 A4 coding)
CVM_RESULTS = {
    Cvm.ONLINE_PIN: b"\x02\x00\x00",
    Cvm.OBTAIN_SIGNATURE: b"\x1e\x00\x00",
    Cvm.CONFIRMATION_CODE_VERIFIED: b"\x01\x00\x02",
    Cvm.NO_CVM: b"\x1f\x00\x02",
    Cvm.NA: b"\x3f\x00\x00",
}


def run(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    act: Activation,
) -> KernelOutcome:
    """# Book C-3, 5 Kernel 3 processing: GPO, records, offline checks, CVM, outcome."""
    ctx.step = "kernel3"
    started = _initiate(ctx, transport)
    if isinstance(started, tuple):
        return started
    # Book C-3, 5.5: read the records named in the AFL (none for a format without AFL)
    if ctx.afl:
        stop = _read_records(ctx, transport, callbacks, started)
        if stop is not None:
            return stop
    _pan_from_track2(ctx)
    card_read_complete(callbacks)
    return _decide(ctx, act)


def _pan_from_track2(ctx: TransactionContext) -> None:
    """Book C-3, 5.5: without '5A' the PAN is the one in Track 2 Equivalent Data."""
    track = ctx.card.get(0x57, b"").hex().upper()
    if 0x5A in ctx.card or "D" not in track:
        return
    digits = track.split("D", 1)[0]
    if digits.isdigit() and 12 <= len(digits) <= 19:
        ctx.card[0x5A] = bytes.fromhex(digits + "F" * (len(digits) % 2))


def _read_records(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    gpo: dict[int, bytes],
) -> KernelOutcome | None:
    """Book C-3, 5.5: records per AFL. A GPO object the records repeat must repeat
    the same value; the contact rule 'once only' would refuse real qVSDC cards."""
    from_gpo = {
        tag: ctx.card.pop(tag) for tag in list(ctx.card) if tag in gpo and tag not in (0x82, 0x94)
    }
    stop = read_application_data(ctx, transport, callbacks, mandatory=RECORD_MANDATORY)
    for tag, value in from_gpo.items():
        if ctx.card.setdefault(tag, value) != value:
            return end_application(f"tag {tag:X} differs", TerminationReason.DATA_FORMAT_ERROR)
    if stop is not None:
        return end_application(stop.detail, stop.reason or TerminationReason.CARD_ERROR)
    return None


# Book C-3, 5.2 and 5.4: PDOL with the TTQ, GET PROCESSING OPTIONS, response checks
def _initiate(
    ctx: TransactionContext, transport: CardTransport
) -> KernelOutcome | dict[int, bytes]:
    pdol = ctx.card.get(0x9F38, b"")
    try:
        entries = dol.parse(pdol) if pdol else []
    except EmvError as error:
        return end_application(f"PDOL: {type(error).__name__}", TerminationReason.DATA_FORMAT_ERROR)
    if all(entry.tag != TAG_TTQ for entry in entries):
        # Book C-3, 5.2.2.2: a qVSDC card always asks for the TTQ; without it, next combination
        return select_next("PDOL without 9F66")
    response = get_processing_options(ctx, transport)
    if isinstance(response, tuple):
        return response
    if response.sw == SW_TRY_ANOTHER_INTERFACE:
        return try_another_interface("GPO SW 6984")
    if response.sw == SW_SEE_PHONE:
        # Book C-3, 5.4.2: the phone needs its owner; present it again afterwards (Start B)
        return outcome(
            OutcomeKind.TRY_AGAIN,
            "GPO SW 6986: see phone",
            reason=TerminationReason.TRY_AGAIN,
            start=Start.B,
            message=UiMessage.SEE_PHONE,
        )
    if not response.ok:
        return end_application(f"GPO SW {response.sw:04X}")
    return _parse_gpo(ctx, response.data)


def _parse_gpo(ctx: TransactionContext, data: bytes) -> KernelOutcome | dict[int, bytes]:
    # Book C-3, 5.4.3: format 2 only ('77'), each primitive once, 82 and the AC present
    try:
        items = decode(data)
    except TlvError as error:
        return end_application(f"GPO: {error}", TerminationReason.DATA_FORMAT_ERROR)
    if len(items) != 1 or items[0].tag != 0x77:
        return end_application(
            "GPO response not a '77' template", TerminationReason.DATA_FORMAT_ERROR
        )
    found: dict[int, bytes] = {}
    for item in walk(items[0].children):
        if item.children:
            continue
        if item.tag in found:
            return end_application(f"GPO: {item.tag:X} twice", TerminationReason.DATA_FORMAT_ERROR)
        found[item.tag] = item.value
    missing = [f"{tag:X}" for tag in GPO_MANDATORY if tag not in found]
    if missing:
        return end_application(
            "GPO: " + ",".join(missing), TerminationReason.MISSING_MANDATORY_DATA
        )
    afl = found.get(0x94, b"")
    if len(found[0x82]) != 2 or len(afl) % 4 or len(found[0x9F36]) != 2:
        return end_application("GPO: AIP/AFL/ATC length", TerminationReason.DATA_FORMAT_ERROR)
    cid = _cid(found)
    if cid is None:
        return end_application("GPO: cryptogram type unknown", TerminationReason.DATA_FORMAT_ERROR)
    found[0x9F27] = bytes((cid,))
    ctx.card.update(found)
    ctx.aip = AIP.from_bytes(found[0x82])
    ctx.afl = afl
    ctx.genac1.update({tag: found[tag] for tag in (0x9F26, 0x9F27, 0x9F36, 0x9F10)})
    return found


def _cid(found: dict[int, bytes]) -> int | None:
    """Book C-3, 5.4.3: 9F27 when present, else IAD byte 5 b6-b5 (Visa CVR)."""
    raw = found.get(0x9F27)
    if raw is not None:
        if len(raw) != 1 or raw[0] & 0xC0 == 0xC0:
            return None
        return raw[0]
    iad = found[0x9F10]
    if len(iad) < 5:
        return None
    kind = (iad[4] >> 4) & 0x03
    return {0: CID_AAC, 1: CID_TC, 2: CID_ARQC}.get(kind)


def _ctq(ctx: TransactionContext) -> CTQ | None:
    raw = ctx.card.get(TAG_CTQ)
    if raw is None:
        return None
    try:
        return CTQ.from_bytes(raw)
    except FieldLengthError:
        return None


def _expired(ctx: TransactionContext) -> bool:
    # Book C-3, 5.6.1: Application Expiration Date before the transaction date
    raw = ctx.card.get(0x5F24)
    if raw is None:
        return False
    expiry = parse_yymmdd(raw)
    return expiry is None or expiry < ctx.txn.date


def _decide(ctx: TransactionContext, act: Activation) -> KernelOutcome:
    cid = ctx.card[0x9F27][0] & 0xC0
    ttq = act.ttq
    ctq = _ctq(ctx)
    switch = _switch_interface(ctx, ctq, ttq)
    if switch is not None:
        return switch
    if cid == CID_AAC:
        # Book C-3, 5.6: an AAC from the card is a decline
        return _finish(ctx, OutcomeKind.DECLINED, "card returned AAC", Cvm.NA)
    if cid == CID_ARQC and TTQ.OFFLINE_ONLY_READER in ttq:
        # Book C-3, 5.6: an offline-only reader cannot send an ARQC anywhere
        return _finish(ctx, OutcomeKind.DECLINED, "ARQC on an offline-only reader", Cvm.NA)
    if cid == CID_ARQC:
        # Book C-3, 5.6.2: fDDA for online authorisations when the reader supports it
        if TTQ.ODA_FOR_ONLINE_AUTHORISATIONS_SUPPORTED in ttq:
            verify_fdda(ctx)
        else:
            ctx.tvr |= TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED
        cvm = choose_cvm(
            ctq, ttq, online=True, cvm_required=act.preprocessed.cvm_required_limit_exceeded
        )
        if cvm is None:
            return _no_cvm_possible(ctx, ttq)
        return _finish(ctx, OutcomeKind.ONLINE_REQUEST, "card returned ARQC", cvm)
    return _offline(ctx, act, ctq)


def _offline(ctx: TransactionContext, act: Activation, ctq: CTQ | None) -> KernelOutcome:
    """Book C-3, 5.6.1: a TC - expiry, exception file and fDDA decide whether it stands."""
    ttq = act.ttq
    online_capable = TTQ.OFFLINE_ONLY_READER not in ttq
    if _expired(ctx):
        ctx.tvr |= TVR.EXPIRED_APPLICATION
        if ctq is not None and CTQ.GO_ONLINE_IF_APPLICATION_EXPIRED in ctq and online_capable:
            return _online_after_offline_check(ctx, act, ctq, "application expired; CTQ: go online")
        return _finish(ctx, OutcomeKind.DECLINED, "application expired", Cvm.NA)
    check_exception_file(ctx)
    if TVR.CARD_ON_TERMINAL_EXCEPTION_FILE in ctx.tvr:
        return _finish(ctx, OutcomeKind.DECLINED, "card on exception file", Cvm.NA)
    if verify_fdda(ctx) is not FddaResult.OK:
        # Book C-3, 5.6.1.2: the CTQ says what a failed/absent fDDA leads to
        if ctq is not None and CTQ.GO_ONLINE_IF_ODA_FAILS in ctq and online_capable:
            return _online_after_offline_check(ctx, act, ctq, "fDDA failed; CTQ: go online")
        if (
            ctq is not None
            and CTQ.SWITCH_INTERFACE_IF_ODA_FAILS in ctq
            and TTQ.EMV_CONTACT_CHIP_SUPPORTED in ttq
        ):
            return try_another_interface("fDDA failed")
        return _finish(ctx, OutcomeKind.DECLINED, "fDDA failed", Cvm.NA)
    cvm = choose_cvm(
        ctq, ttq, online=False, cvm_required=act.preprocessed.cvm_required_limit_exceeded
    )
    if cvm is None:
        return _no_cvm_possible(ctx, ttq)
    return _finish(ctx, OutcomeKind.APPROVED, "card returned TC, fDDA verified", cvm)


def _online_after_offline_check(
    ctx: TransactionContext, act: Activation, ctq: CTQ | None, detail: str
) -> KernelOutcome:
    """Book C-3, 5.6.1: the card's TC failed a reader check and its CTQ says go online."""
    cvm = choose_cvm(
        ctq, act.ttq, online=True, cvm_required=act.preprocessed.cvm_required_limit_exceeded
    )
    if cvm is None:
        return _no_cvm_possible(ctx, act.ttq)
    return _finish(ctx, OutcomeKind.ONLINE_REQUEST, detail, cvm)


# Book C-3, 5.6 / Annex A.2 CTQ byte 1 b3-b2: cash and cashback may need the contact chip
def _switch_interface(ctx: TransactionContext, ctq: CTQ | None, ttq: TTQ) -> KernelOutcome | None:
    if ctq is None or TTQ.EMV_CONTACT_CHIP_SUPPORTED not in ttq:
        return None
    kind = ctx.txn.transaction_type
    cash = ctx.txn.cash or kind in CASH_TYPES
    cashback = kind == TransactionType.PURCHASE_WITH_CASHBACK or (
        ctx.txn.amount_other > 0 and not cash
    )
    if cash and CTQ.SWITCH_INTERFACE_FOR_CASH in ctq:
        return try_another_interface("CTQ: switch interface for cash")
    if cashback and CTQ.SWITCH_INTERFACE_FOR_CASHBACK in ctq:
        return try_another_interface("CTQ: switch interface for cashback")
    return None


# Book C-3, 5.7 Cardholder Verification: consumer device CVM, then CTQ requests, then
# the reader's CVM Required Limit with what the reader itself supports
def choose_cvm(ctq: CTQ | None, ttq: TTQ, *, online: bool, cvm_required: bool) -> Cvm | None:
    """The CVM for this transaction, or None when the CVM needed cannot be done."""
    if ctq is not None:
        if CTQ.CONSUMER_DEVICE_CVM_PERFORMED in ctq:
            return Cvm.CONFIRMATION_CODE_VERIFIED
        if CTQ.ONLINE_PIN_REQUIRED in ctq and TTQ.ONLINE_PIN_SUPPORTED in ttq and online:
            return Cvm.ONLINE_PIN
        if CTQ.SIGNATURE_REQUIRED in ctq and TTQ.SIGNATURE_SUPPORTED in ttq:
            return Cvm.OBTAIN_SIGNATURE
    if not (cvm_required or TTQ.CVM_REQUIRED in ttq):
        return Cvm.NO_CVM
    if TTQ.ONLINE_PIN_SUPPORTED in ttq and online:
        return Cvm.ONLINE_PIN
    if TTQ.SIGNATURE_SUPPORTED in ttq:
        return Cvm.OBTAIN_SIGNATURE
    return None


def _no_cvm_possible(ctx: TransactionContext, ttq: TTQ) -> KernelOutcome:
    # Book C-3, 5.7: a CVM is required and none the reader supports applies
    ctx.tvr |= TVR.CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL
    if TTQ.EMV_CONTACT_CHIP_SUPPORTED in ttq:
        return try_another_interface("CVM required, none supported")
    return _finish(ctx, OutcomeKind.DECLINED, "CVM required, none supported", Cvm.NA)


def _finish(ctx: TransactionContext, kind: OutcomeKind, detail: str, cvm: Cvm) -> KernelOutcome:
    ctx.cvm_results = CVM_RESULTS[cvm]  # Book C-3 has no 9F34 of its own
    return finish(ctx, kind, detail, cvm)
