"""The contactless Entry Point (EMV Contactless Book B) and the call the terminal makes.

Start A pre-processing, (protocol activation is the caller's: it hands us a card
transport), combination selection over the PPSE, kernel activation (Kernel 2 or 3),
outcome processing with Start C restarts inside this call, and - for an Online
Request - the cardholder's online PIN and the authorisation through the contact
kernel's callbacks once the card has left the field.
"""

from __future__ import annotations

from collections.abc import Callable

from emv.action import online_request
from emv.bits import TSI, TVR
from emv.callbacks import (
    DisplayMessage,
    KernelCallbacks,
    PinKind,
    PinRequest,
    PinStatus,
)
from emv.contactless import kernel2, kernel3
from emv.contactless.activation import (
    Activation,
    KernelOutcome,
    end_application,
    outcome,
    try_another_interface,
)
from emv.contactless.config import ContactlessConfig, KernelId
from emv.contactless.outcome import ContactlessResult, Cvm, OutcomeKind, Start, UiMessage
from emv.contactless.preprocessing import pre_process
from emv.contactless.result import build_contactless_result, contactless_de55
from emv.contactless.selection import (
    CandidateCombination,
    candidate_list,
    final_select,
    ordered,
    read_ppse,
)
from emv.context import OdaMethod, TransactionContext, TransactionInput
from emv.errors import EmvError
from emv.outcome import Decision, TerminationReason
from emv.transport import CardTransport, CardTransportError

KernelRun = Callable[
    [TransactionContext, CardTransport, KernelCallbacks, Activation], KernelOutcome
]
KERNELS: dict[int, KernelRun] = {KernelId.MASTERCARD: kernel2.run, KernelId.VISA: kernel3.run}
ENTRY_MODE_CONTACTLESS = 0x07  # ISO 8583 DE 22 / 9F39: contactless chip
RESPONSE_CODE_OFFLINE_APPROVED = b"Y1"  # Book 4, A6
RESPONSE_CODE_OFFLINE_DECLINED = b"Z1"
RESPONSE_CODE_UNABLE_ONLINE = b"Z3"  # an ARQC cannot be approved offline


def new_context(config: ContactlessConfig, txn: TransactionInput) -> TransactionContext:
    """A transaction context for :func:`run_contactless_context` (entry mode '07')."""
    ctx = TransactionContext.new(config.kernel, txn)
    ctx.terminal[0x9F39] = bytes((ENTRY_MODE_CONTACTLESS,))
    return ctx


def run_contactless(
    transport: CardTransport,
    config: ContactlessConfig,
    callbacks: KernelCallbacks,
    txn: TransactionInput,
) -> ContactlessResult:
    """Run one contactless transaction; never raises for anything the card does."""
    return run_contactless_context(new_context(config, txn), transport, callbacks, config)


def run_contactless_context(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    config: ContactlessConfig,
) -> ContactlessResult:
    """As :func:`run_contactless`, over a context the caller made (it can read
    ``ctx.card`` afterwards for DE 2/14/35, exactly as with the contact kernel)."""
    ctx.terminal[0x9F39] = bytes((ENTRY_MODE_CONTACTLESS,))
    state = _State()
    try:
        result = _entry_point(ctx, transport, callbacks, config, state)
    except CardTransportError as error:
        # Book A, 6.2 / Book C-3 5.x: the card left before the kernel finished - present again
        result = outcome(
            OutcomeKind.TRY_AGAIN,
            type(error).__name__,
            reason=TerminationReason.CARD_REMOVED,
            start=Start.B,
            message=UiMessage.PRESENT_CARD_AGAIN,
        )
    except EmvError as error:
        result = end_application(str(error))
    params, reason = result
    decision, reason = _decision(ctx, params.outcome, reason, state)
    return build_contactless_result(
        ctx,
        params,
        decision,
        reason,
        kernel_id=state.activation.kernel_id if state.activation else 0,
        ttq=state.activation.preprocessed.ttq if state.activation else b"",
        restarts=state.restarts,
    )


class _State:
    """What outcome processing learns along the way (which kernel, online answer)."""

    def __init__(self) -> None:
        self.activation: Activation | None = None
        self.restarts = 0
        self.online_approved: bool | None = None  # None = never answered


def _entry_point(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    config: ContactlessConfig,
    state: _State,
) -> KernelOutcome:
    # Book B, 3.1 Pre-Processing (Start A)
    exponent = ctx.config.terminal.currency_exponent
    preprocessed = pre_process(config.combinations, config.ttq, ctx.txn.amount, exponent)
    if not preprocessed or all(item.not_allowed for item in preprocessed):
        # Book B, 3.1.1.12: no combination may run - the contact interface may
        return try_another_interface("contactless not allowed for this transaction")
    # Book B, 3.3 Combination Selection (Start B: the caller activated the card)
    ctx.step = "entry_point"
    entries = read_ppse(ctx, transport)
    candidates = ordered(candidate_list(entries or [], preprocessed))
    for _ in range(config.max_restarts + 1):
        if not candidates:
            # Book B, 3.3.2.7 / 3.3.3.7: nothing (left) to select
            return outcome(
                OutcomeKind.END_APPLICATION,
                "no contactless application in common" if entries is not None else "no PPSE",
                reason=TerminationReason.NO_COMMON_APPLICATION,
                message=UiMessage.INSERT_SWIPE_OR_TRY_ANOTHER_CARD,
            )
        chosen = candidates.pop(0)
        activation = final_select(ctx, transport, chosen)
        if activation is None:
            state.restarts += 1
            continue  # Book B, 3.3.3.6: this one fails - the next combination
        state.activation = activation
        result = _activate(ctx, transport, callbacks, activation)
        if result[0].outcome is OutcomeKind.SELECT_NEXT:
            # Book B, 3.5.1.2: Start C - drop this combination, select the next
            state.restarts += 1
            _reset(ctx)
            continue
        if result[0].outcome is OutcomeKind.ONLINE_REQUEST:
            return _online(ctx, callbacks, result, state)
        return result
    return outcome(
        OutcomeKind.END_APPLICATION,
        "restart limit",
        reason=TerminationReason.NO_COMMON_APPLICATION,
        message=UiMessage.INSERT_SWIPE_OR_TRY_ANOTHER_CARD,
    )


# Book B, 3.4 Kernel Activation
def _activate(
    ctx: TransactionContext,
    transport: CardTransport,
    callbacks: KernelCallbacks,
    activation: Activation,
) -> KernelOutcome:
    if activation.kernel_id == KernelId.VISA:
        ctx.terminal[0x9F66] = activation.preprocessed.ttq  # Book C-3: the PDOL asks for it
    else:
        ctx.terminal.pop(0x9F66, None)
    kernel = KERNELS[activation.kernel_id]
    return kernel(ctx, transport, callbacks, activation)


def _reset(ctx: TransactionContext) -> None:
    """Forget what the dropped combination left behind (Start C)."""
    ctx.card.clear()
    ctx.fci.clear()
    ctx.aid_entry = None
    ctx.terminal.pop(0x9F09, None)
    ctx.oda_records.clear()
    ctx.oda_record_invalid = False
    ctx.oda_method = OdaMethod.NONE
    ctx.genac1.clear()
    ctx.tvr = TVR(0)
    ctx.tsi = TSI(0)
    ctx.cvm_results = b"\x3f\x00\x00"
    ctx.signature_required = False
    ctx.online_pin = None
    ctx.afl = b""
    ctx.pdol_data = b""
    ctx.cdol1_data = b""


# Book A, 6.2 'Online Request': online PIN (Outcome CVM) then the authorisation,
# both after the card has left the field
def _online(
    ctx: TransactionContext,
    callbacks: KernelCallbacks,
    result: KernelOutcome,
    state: _State,
) -> KernelOutcome:
    params = result[0]
    ctx.step = "online"
    if params.cvm is Cvm.ONLINE_PIN:
        entry = callbacks.enter_pin(
            PinRequest(
                PinKind.ONLINE,
                ctx.pan_masked,
                ctx.txn.amount,
                ctx.terminal.get(0x5F2A, b""),
            )
        )
        if entry.status is not PinStatus.ENTERED or not entry.online_block:
            ctx.tvr |= TVR.PIN_NOT_ENTERED
            why = "online PIN " + entry.status.value
            return outcome(
                OutcomeKind.END_APPLICATION,
                why,
                reason=TerminationReason.CANCELLED,
                message=UiMessage.NOT_AUTHORISED,
            )
        ctx.online_pin = entry
        ctx.tvr |= TVR.ONLINE_CVM_CAPTURED
    callbacks.display(DisplayMessage.PLEASE_WAIT)
    kernel_id = state.activation.kernel_id if state.activation else 0
    response = callbacks.go_online(online_request(ctx, contactless_de55(ctx, kernel_id)))
    ctx.online_response = response
    if response is None:
        ctx.unable_to_go_online = True
        ctx.terminal[0x8A] = RESPONSE_CODE_UNABLE_ONLINE
        return result
    state.online_approved = response.approved
    ctx.terminal[0x8A] = response.response_code[:2].ljust(2, b"0")
    if response.authorisation_code:
        ctx.terminal[0x89] = response.authorisation_code
    callbacks.display(DisplayMessage.APPROVED if response.approved else DisplayMessage.DECLINED)
    return result


def _decision(
    ctx: TransactionContext,
    kind: OutcomeKind,
    reason: TerminationReason | None,
    state: _State,
) -> tuple[Decision, TerminationReason | None]:
    """The contact-style decision for an Outcome (what the terminal journals)."""
    if kind is OutcomeKind.APPROVED:
        ctx.terminal[0x8A] = RESPONSE_CODE_OFFLINE_APPROVED
        return Decision.APPROVED_OFFLINE, None
    if kind is OutcomeKind.DECLINED:
        ctx.terminal[0x8A] = RESPONSE_CODE_OFFLINE_DECLINED
        return Decision.DECLINED_OFFLINE, reason
    if kind is OutcomeKind.ONLINE_REQUEST:
        if state.online_approved is None:
            return Decision.DECLINED_OFFLINE, None  # unable to go online (8A Z3)
        if state.online_approved:
            return Decision.APPROVED_ONLINE, None
        return Decision.DECLINED_ONLINE, None
    defaults = {
        OutcomeKind.TRY_ANOTHER_INTERFACE: TerminationReason.TRY_ANOTHER_INTERFACE,
        OutcomeKind.TRY_AGAIN: TerminationReason.TRY_AGAIN,
    }
    return Decision.TERMINATED, reason or defaults.get(kind, TerminationReason.CARD_ERROR)


__all__ = [
    "CandidateCombination",
    "new_context",
    "run_contactless",
    "run_contactless_context",
]
