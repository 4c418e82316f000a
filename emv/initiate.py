"""Initiate application processing (EMV 4.4 Book 3, 10.1)."""

from __future__ import annotations

from emv import apdu, dol
from emv.bits import AIP, TSI, TVR
from emv.callbacks import KernelCallbacks
from emv.context import TransactionContext
from emv.errors import EmvError
from emv.outcome import Outcome, TerminationReason
from emv.tlv import TlvError, decode, walk
from emv.transport import CardTransport

SW_CONDITIONS_NOT_SATISFIED = 0x6985


# Returned by initiate_processing when selection must resume (GPO 6985).
RESELECT = "reselect"


def initiate_processing(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | str | None:
    """# EMV 4.4 Book 3, 10.1 Initiate Application Processing.

    Returns None to go on, an Outcome to stop, or ``RESELECT`` when
    the card answered 6985 and selection must resume without this application.
    """
    ctx.step = "initiate"
    # Book 3, 10.1: TVR and TSI start at zero for the selected application.
    ctx.tvr = TVR(0)
    ctx.tsi = TSI(0)
    pdol = ctx.card.get(0x9F38, b"")
    try:
        ctx.pdol_data = dol.build(pdol, ctx.data()) if pdol else b""
    except EmvError as error:  # a PDOL the card cannot have meant
        return Outcome.terminate(
            TerminationReason.DATA_FORMAT_ERROR, f"PDOL: {type(error).__name__}"
        )
    if len(ctx.pdol_data) > 252:
        return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, "PDOL data too long")
    response = apdu.exchange(ctx, transport, apdu.get_processing_options(ctx.pdol_data))
    if response.sw == SW_CONDITIONS_NOT_SATISFIED:
        return RESELECT
    if not response.ok:
        return Outcome.terminate(TerminationReason.CARD_ERROR, f"GPO SW {response.sw:04X}")
    return parse_gpo_response(ctx, response.data)


def parse_gpo_response(ctx: TransactionContext, data: bytes) -> Outcome | None:
    """# EMV 4.4 Book 3, 6.5.8.4: format 1 ('80': AIP || AFL) or format 2 ('77')."""
    try:
        items = decode(data)
    except TlvError as error:
        return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, f"GPO: {error}")
    if len(items) != 1:
        return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, "GPO: not one template")
    template = items[0]
    if template.tag == 0x80:
        value = template.value
        if len(value) < 2 or (len(value) - 2) % 4:
            return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, "GPO format 1 length")
        aip, afl = value[:2], value[2:]
    elif template.tag == 0x77:
        found: dict[int, bytes] = {}
        for item in walk(template.children):
            if item.children:
                continue
            if item.tag in found:
                return Outcome.terminate(
                    TerminationReason.DATA_FORMAT_ERROR, f"GPO: {item.tag:X} twice"
                )
            found[item.tag] = item.value
        if 0x82 not in found or 0x94 not in found:
            return Outcome.terminate(TerminationReason.MISSING_MANDATORY_DATA, "GPO: 82/94 missing")
        aip, afl = found[0x82], found[0x94]
        if len(aip) != 2 or len(afl) % 4:
            return Outcome.terminate(TerminationReason.DATA_FORMAT_ERROR, "GPO: AIP/AFL length")
        for tag, value in found.items():
            ctx.card[tag] = value
    else:
        return Outcome.terminate(
            TerminationReason.DATA_FORMAT_ERROR, f"GPO template {template.tag:X}"
        )
    ctx.aip = AIP.from_bytes(aip)
    ctx.afl = afl
    ctx.card[0x82] = aip
    ctx.card[0x94] = afl
    return None
