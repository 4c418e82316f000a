"""Kernel 2: Mastercard M/Chip, EMV mode (EMV Contactless Book C-2).

Like the contact kernel up to one GENERATE AC: PDOL and GPO, records, CDA keys,
processing restrictions, CVM from the card's CVM List against the reader's CVM
Required Limit, floor limit and exception file, terminal action analysis with
TACs and IACs, then a single GENERATE AC with CDA. An ARQC ends in Online Request;
there is no second GENERATE AC. Mag-stripe mode (AIP without 'EMV mode') is not
implemented: such a card gets Try Another Interface.
"""

from __future__ import annotations

from emv.action import CryptogramType, generate_ac, terminal_action_analysis
from emv.bits import AIP, TSI, TVR, TerminalCapabilities
from emv.callbacks import (
    DefaultCallbacks,
    DisplayMessage,
    KernelCallbacks,
    PinEntry,
    PinKind,
    PinRequest,
    PinStatus,
)
from emv.contactless.activation import (
    Activation,
    KernelOutcome,
    card_read_complete,
    end_application,
    finish,
    get_processing_options,
    try_another_interface,
)
from emv.contactless.outcome import Cvm, OutcomeKind
from emv.context import OdaMethod, TransactionContext
from emv.cvm import perform as cvm_perform
from emv.initiate import parse_gpo_response
from emv.oda import cda_request_wanted, icc_key, select_method, verify_cda
from emv.oda.results import OdaFailure
from emv.outcome import TerminationReason
from emv.read_data import read_application_data
from emv.restrictions import processing_restrictions
from emv.risk import check_exception_file
from emv.transport import CardTransport

# Book C-2, Annex A: data a card in EMV mode must give (PAN, expiry, CDOL1)
RECORD_MANDATORY = (0x5A, 0x5F24, 0x8C)
SW_CONDITIONS = 0x6985
# Stands in for the PIN block while the card is in the field; the real one is asked
# for after the card has left (Book C-2: online PIN is an Outcome CVM, not a card step).
_DEFERRED = b"\x00" * 8


class DeferredPin(DefaultCallbacks):
    """Callbacks wrapper for the CVM walk: online PIN is chosen, not yet entered."""

    def __init__(self, inner: KernelCallbacks) -> None:
        self.inner = inner
        self.online_pin_chosen = False

    def enter_pin(self, request: PinRequest) -> PinEntry:
        if request.kind is PinKind.ONLINE:
            self.online_pin_chosen = True
            return PinEntry(PinStatus.ENTERED, online_block=_DEFERRED)
        # Book C-2: no offline PIN over contactless (the CVM capability excludes it)
        return PinEntry(PinStatus.PINPAD_FAULT)

    def display(self, message: DisplayMessage) -> None:
        self.inner.display(message)


def run(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    act: Activation,
) -> KernelOutcome:
    """# Book C-2, 3 Kernel 2 EMV mode: GPO to the single GENERATE AC and its Outcome."""
    ctx.step = "kernel2"
    started = _initiate(ctx, transport)
    if started is not None:
        return started
    if AIP.EMV_MODE_SUPPORTED not in ctx.aip:
        # Book C-2, 3.2: mag-stripe mode - not implemented in this reader
        return try_another_interface("card offers mag-stripe mode only")
    stop = read_application_data(ctx, transport, callbacks, mandatory=RECORD_MANDATORY)
    if stop is not None:
        return end_application(stop.detail, stop.reason or TerminationReason.CARD_ERROR)
    _prepare_cda(ctx)
    processing_restrictions(ctx, transport, callbacks)  # Book C-2 3 / EMV 4.4 Book 3 10.4
    chosen = _cvm(ctx, transport, callbacks, act)
    if not isinstance(chosen, Cvm):
        return chosen
    _risk(ctx, act)
    return _generate_ac(ctx, transport, callbacks, chosen, act)


# Book C-2, 3.1-3.2: PDOL, GET PROCESSING OPTIONS
def _initiate(ctx: TransactionContext, transport: CardTransport) -> KernelOutcome | None:
    response = get_processing_options(ctx, transport)
    if isinstance(response, tuple):
        return response
    if not response.ok:
        return end_application(f"GPO SW {response.sw:04X}")
    stop = parse_gpo_response(ctx, response.data)
    if stop is not None:
        return end_application(stop.detail, stop.reason or TerminationReason.CARD_ERROR)
    return None


def _capabilities(ctx: TransactionContext) -> TerminalCapabilities:
    raw = ctx.terminal.get(0x9F33, ctx.config.terminal.capabilities)
    return TerminalCapabilities(int.from_bytes(raw[:3].rjust(3, b"\x00"), "big"))


# Book C-2, 3 'CDA': Kernel 2 authenticates offline only by CDA; keys recovered early
def _prepare_cda(ctx: TransactionContext) -> None:
    method = select_method(ctx.aip, _capabilities(ctx))
    if method is not OdaMethod.CDA:
        ctx.oda_method = OdaMethod.NONE
        ctx.tvr |= TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED
        return
    ctx.oda_method = OdaMethod.CDA
    failure = icc_key(ctx).failure
    if failure is not None:
        ctx.tsi |= TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED
        ctx.tvr |= TVR.CDA_FAILED
        if failure is OdaFailure.ICC_DATA_MISSING:
            ctx.tvr |= TVR.ICC_DATA_MISSING


# Book C-2, 3 CVM selection: 9F33 byte 2 is 'CVM Capability - CVM Required' above the
# Reader CVM Required Limit and 'CVM Capability - No CVM Required' at or below it
def _cvm(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks, act: Activation
) -> Cvm | KernelOutcome:
    combination = act.combination
    limit = combination.cvm_required_limit
    # Book C-2, Annex A 'Reader CVM Required Limit': CVM required when the amount is
    # *above* it (Entry Point's own indicator, Book B 3.1.1.7, uses 'at or above')
    required = limit is not None and ctx.txn.amount > limit
    byte2 = combination.cvm_required_capability if required else combination.no_cvm_capability
    caps = bytearray(
        ctx.terminal.get(0x9F33, ctx.config.terminal.capabilities)[:3].ljust(3, b"\x00")
    )
    caps[1] = byte2
    ctx.terminal[0x9F33] = bytes(caps)
    if AIP.ON_DEVICE_CARDHOLDER_VERIFICATION_SUPPORTED in ctx.aip and combination.on_device_cvm:
        # Book C-2, CVM selection: both support on-device CVM - the phone verified the
        # cardholder above the limit (9F34 '010002'); below it no CVM ('3F0002')
        ctx.cvm_results = bytes.fromhex("010002" if required else "3F0002")
        ctx.tsi |= TSI.CARDHOLDER_VERIFICATION_PERFORMED
        return Cvm.CONFIRMATION_CODE_VERIFIED if required else Cvm.NO_CVM
    wrapper = DeferredPin(callbacks)
    stop = cvm_perform(ctx, transport, wrapper)
    if stop is not None:
        return end_application(stop.detail, stop.reason or TerminationReason.CARD_ERROR)
    code = ctx.cvm_results[0] & 0x3F
    if wrapper.online_pin_chosen:
        ctx.online_pin = None  # the real block is entered after the card has left
        return Cvm.ONLINE_PIN
    if ctx.signature_required or code == 0x1E:
        return Cvm.OBTAIN_SIGNATURE
    if code == 0x1F:
        return Cvm.NO_CVM
    return Cvm.NA if code == 0x3F else Cvm.NO_CVM


# Book C-2, 3 terminal risk management: reader floor limit and exception file
def _risk(ctx: TransactionContext, act: Activation) -> None:
    if act.preprocessed.floor_limit_exceeded:
        ctx.tvr |= TVR.FLOOR_LIMIT_EXCEEDED
    check_exception_file(ctx)
    ctx.tsi |= TSI.TERMINAL_RISK_MANAGEMENT_PERFORMED


def _generate_ac(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    cvm: Cvm,
    act: Activation,
) -> KernelOutcome:
    # Book C-2, 3 terminal action analysis (TAC/IAC), then GENERATE AC with CDA
    ctx.step = "kernel2"
    requested = terminal_action_analysis(ctx)
    pre = act.preprocessed
    if requested == CryptogramType.TC and (pre.status_check_requested or pre.zero_amount):
        # Book B, 3.1.1.3-3.1.1.4: status check and zero amount ask for an online cryptogram
        requested = CryptogramType.ARQC
    cda = requested != CryptogramType.AAC and cda_request_wanted(ctx)
    ctx.cda_requested = cda
    result = generate_ac(ctx, transport, requested, second=False, cda=cda)
    if not isinstance(result, tuple):
        return end_application(result.detail, TerminationReason.NOT_ACCEPTED)
    answer, raw = result
    ctx.tsi |= TSI.CARD_RISK_MANAGEMENT_PERFORMED
    card_read_complete(callbacks)
    if (
        cda
        and answer.kind != CryptogramType.AAC
        and not verify_cda(ctx, raw, ctx.cdol1_data, False)
    ):
        # Book C-2, 3 / Book 2 6.6.2: a CDA failure on a TC or ARQC declines
        return finish(ctx, OutcomeKind.DECLINED, "CDA failed", Cvm.NA, TerminationReason.CDA_FAILED)
    if answer.kind == CryptogramType.TC:
        return finish(ctx, OutcomeKind.APPROVED, "card returned TC", cvm)
    if answer.kind == CryptogramType.ARQC:
        return finish(ctx, OutcomeKind.ONLINE_REQUEST, "card returned ARQC", cvm)
    return finish(ctx, OutcomeKind.DECLINED, "card returned AAC", Cvm.NA)
