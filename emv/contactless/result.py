"""The contactless result: the contact kernel's result plus the Outcome parameter set,
with the contactless tags (9F66, 9F6C, 9F6E, 9F7C) added to DE 55."""

from __future__ import annotations

from dataclasses import fields

from emv import dol
from emv.contactless.outcome import ContactlessResult, OutcomeParameters
from emv.context import TransactionContext
from emv.errors import EmvError
from emv.outcome import Decision, Outcome, TerminationReason
from emv.result import build_de55, build_result, encode_de55
from emv.trace import scrub

# Book C-3 Annex A / Book C-2 Annex A: objects the issuer needs besides the contact set
CONTACTLESS_DE55_TAGS = (0x9F66, 0x9F6C, 0x9F6E, 0x9F7C, 0x9F39)


KERNEL_3 = 3


def pdol_values(ctx: TransactionContext) -> dict[int, bytes]:
    """The terminal data objects exactly as sent in GET PROCESSING OPTIONS."""
    values: dict[int, bytes] = {}
    try:
        entries = dol.parse(ctx.card.get(0x9F38, b""))
    except EmvError:
        return values
    offset = 0
    for entry in entries:
        values[entry.tag] = ctx.pdol_data[offset : offset + entry.length]
        offset += entry.length
    return values if offset == len(ctx.pdol_data) else {}


def contactless_de55(ctx: TransactionContext, kernel_id: int = 0) -> dict[int, bytes]:
    """DE 55 for the authorisation / clearing record of a contactless transaction.

    A Kernel 3 card computes its cryptogram inside GET PROCESSING OPTIONS, over the
    PDOL data; the issuer recomputes it from DE 55, so every object the PDOL carried
    goes to the host with the value the card saw, even where the reader changed it
    later (the TVR after fDDA or expiry checks, for one).
    """
    if not ctx.genac1:
        return {}
    out = build_de55(ctx)
    for tag in CONTACTLESS_DE55_TAGS:
        value = ctx.get(tag)
        if value:
            out[tag] = value
    if kernel_id == KERNEL_3:
        for tag, value in pdol_values(ctx).items():
            if tag in out:
                out[tag] = value
    return out


def known_pans(ctx: TransactionContext) -> set[str]:
    """The PAN digits the card gave anywhere (5A, 57 and 9F6B track data)."""
    pans = {ctx.pan}
    for tag in (0x57, 0x9F6B):
        track = ctx.card.get(tag, b"").hex().upper()
        if "D" in track:
            pans.add(track.split("D", 1)[0])
    return {pan for pan in pans if pan}


def build_contactless_result(
    ctx: TransactionContext,
    params: OutcomeParameters,
    decision: Decision,
    reason: TerminationReason | None,
    *,
    kernel_id: int,
    ttq: bytes,
    restarts: int,
) -> ContactlessResult:
    outcome = Outcome(decision, reason, params.detail)
    ctx.outcome = outcome
    base = build_result(ctx, outcome)
    values = {item.name: getattr(base, item.name) for item in fields(base)}
    de55 = contactless_de55(ctx, kernel_id)
    values["de55_tags"] = de55
    values["de55"] = encode_de55(de55)
    receipt = dict(base.receipt)
    receipt["entry_mode"] = "contactless"
    receipt["cvm"] = params.cvm.value
    receipt["outcome"] = params.outcome.value
    values["receipt"] = receipt
    values["signature_required"] = ctx.signature_required
    values["trace"] = scrub(ctx.trace, known_pans(ctx))
    return ContactlessResult(
        **values, outcome=params, kernel_id=kernel_id, ttq=ttq, restarts=restarts
    )
