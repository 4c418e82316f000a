"""What Entry Point hands a kernel when it activates it (Book B, 3.4), and the
small outcome builders every kernel uses."""

from __future__ import annotations

from dataclasses import dataclass

from emv import apdu, dol
from emv.bits import TTQ
from emv.callbacks import DisplayMessage, KernelCallbacks
from emv.contactless.config import Combination
from emv.contactless.outcome import (
    AlternateInterface,
    Cvm,
    OutcomeKind,
    OutcomeParameters,
    Start,
    UiMessage,
    UiRequest,
    UiStatus,
)
from emv.context import TransactionContext
from emv.errors import EmvError
from emv.outcome import TerminationReason
from emv.transport import CardTransport


@dataclass(frozen=True, slots=True)
class Preprocessed:
    """Book B, 3.1.1: one combination after pre-processing (its Entry Point indicators)."""

    combination: Combination
    ttq: bytes  # the TTQ copy for this combination (3.1.1.2)
    not_allowed: bool = False  # 'Contactless Application Not Allowed'
    status_check_requested: bool = False
    zero_amount: bool = False
    floor_limit_exceeded: bool = False  # 'Reader Contactless Floor Limit Exceeded'
    cvm_required_limit_exceeded: bool = False  # 'Reader CVM Required Limit Exceeded'

    @property
    def ttq_flags(self) -> TTQ:
        return TTQ.from_bytes(self.ttq)


@dataclass(frozen=True, slots=True)
class Activation:
    """Book B, 3.4.1: the selected combination, its FCI and pre-processing indicators."""

    adf_name: bytes
    kernel_id: int
    preprocessed: Preprocessed
    label: str = ""

    @property
    def combination(self) -> Combination:
        return self.preprocessed.combination

    @property
    def ttq(self) -> TTQ:
        return self.preprocessed.ttq_flags


def outcome(
    kind: OutcomeKind,
    detail: str = "",
    *,
    reason: TerminationReason | None = None,
    cvm: Cvm = Cvm.NA,
    start: Start = Start.NA,
    message: UiMessage | None = None,
    alternate: AlternateInterface = AlternateInterface.NA,
    receipt: bool = False,
) -> tuple[OutcomeParameters, TerminationReason | None]:
    """An Outcome parameter set with its UI request (Book A, 6.2.1 and 9.2)."""
    ui = None
    if message is not None:
        status = UiStatus.NOT_READY
        if kind is OutcomeKind.TRY_AGAIN or start is Start.B:
            status = UiStatus.READY_TO_READ
        elif kind in (OutcomeKind.END_APPLICATION, OutcomeKind.TRY_ANOTHER_INTERFACE):
            status = UiStatus.PROCESSING_ERROR
        ui = UiRequest(message, status)
    params = OutcomeParameters(
        outcome=kind,
        start=start,
        online_response_data="EMV Data" if kind is OutcomeKind.ONLINE_REQUEST else "N/A",
        cvm=cvm,
        ui_on_outcome=ui,
        ui_on_restart=UiRequest(message, UiStatus.READY_TO_READ)
        if start is Start.B and message is not None
        else None,
        data_record_present=kind
        in (OutcomeKind.APPROVED, OutcomeKind.DECLINED, OutcomeKind.ONLINE_REQUEST),
        alternate_interface=alternate,
        receipt=receipt or cvm is Cvm.OBTAIN_SIGNATURE,
        detail=detail,
    )
    return params, reason


KernelOutcome = tuple[OutcomeParameters, TerminationReason | None]


def end_application(
    detail: str, reason: TerminationReason = TerminationReason.CARD_ERROR
) -> KernelOutcome:
    """Book A, 6.2.1 'End Application' (card error, malformed data)."""
    return outcome(
        OutcomeKind.END_APPLICATION, detail, reason=reason, message=UiMessage.PROCESSING_ERROR
    )


def try_another_interface(detail: str) -> KernelOutcome:
    """Book A, 6.2.1 'Try Another Interface' with contact chip preferred."""
    return outcome(
        OutcomeKind.TRY_ANOTHER_INTERFACE,
        detail,
        reason=TerminationReason.TRY_ANOTHER_INTERFACE,
        message=UiMessage.INSERT_CARD,
        alternate=AlternateInterface.CONTACT_CHIP,
    )


def select_next(detail: str) -> KernelOutcome:
    """Book B, 3.5.1.2: the kernel asks Entry Point for the next combination (Start C)."""
    return outcome(
        OutcomeKind.SELECT_NEXT,
        detail,
        reason=TerminationReason.NO_COMMON_APPLICATION,
        start=Start.C,
    )


def card_read_complete(callbacks: KernelCallbacks) -> None:
    """Book C-3 5.5 / Book C-2: the card may leave the field now ('Card read OK')."""
    callbacks.display(DisplayMessage.REMOVE_CARD)
    callbacks.remove_card()


def finish(
    ctx: TransactionContext,
    kind: OutcomeKind,
    detail: str,
    cvm: Cvm,
    reason: TerminationReason | None = None,
) -> KernelOutcome:
    """A kernel's final Outcome with the Book A 9.4 message that goes with it."""
    ctx.signature_required = cvm is Cvm.OBTAIN_SIGNATURE
    message = {
        OutcomeKind.APPROVED: UiMessage.APPROVED_PLEASE_SIGN
        if cvm is Cvm.OBTAIN_SIGNATURE
        else UiMessage.APPROVED,
        OutcomeKind.DECLINED: UiMessage.NOT_AUTHORISED,
        OutcomeKind.ONLINE_REQUEST: UiMessage.AUTHORISING,
    }.get(kind)
    return outcome(kind, detail, reason=reason, cvm=cvm, message=message)


SW_CONDITIONS = 0x6985


def get_processing_options(
    ctx: TransactionContext, transport: CardTransport
) -> apdu.Response | KernelOutcome:
    """PDOL data and GET PROCESSING OPTIONS (Book C-2 3 / Book C-3 5.2): 6985 asks
    Entry Point for the next combination; a PDOL the card cannot mean ends it."""
    pdol = ctx.card.get(0x9F38, b"")
    try:
        ctx.pdol_data = dol.build(pdol, ctx.data()) if pdol else b""
    except EmvError as error:
        return end_application(f"PDOL: {type(error).__name__}", TerminationReason.DATA_FORMAT_ERROR)
    if len(ctx.pdol_data) > 252:
        return end_application("PDOL data too long", TerminationReason.DATA_FORMAT_ERROR)
    response = apdu.exchange(ctx, transport, apdu.get_processing_options(ctx.pdol_data))
    if response.sw == SW_CONDITIONS:
        return select_next("GPO SW 6985")
    return response
