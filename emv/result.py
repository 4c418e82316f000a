"""The kernel's result: DE 55 data set, receipt lines, masked trace."""

from __future__ import annotations

from emv.context import TransactionContext
from emv.outcome import KernelResult, Outcome
from emv.tlv import encode_primitive

# ICC system related data for the authorisation/clearing message (ISO 8583 DE 55),
# in the order acquirers usually list them.
DE55_TAGS = (
    0x9F26,  # application cryptogram
    0x9F27,  # cryptogram information data
    0x9F10,  # issuer application data
    0x9F37,  # unpredictable number
    0x9F36,  # ATC
    0x95,  # TVR
    0x9A,  # transaction date
    0x9C,  # transaction type
    0x9F02,  # amount authorised
    0x5F2A,  # transaction currency code
    0x82,  # AIP
    0x9F1A,  # terminal country code
    0x9F34,  # CVM results
    0x9F33,  # terminal capabilities
    0x9F35,  # terminal type
    0x9F1E,  # IFD serial number
    0x84,  # dedicated file name
    0x9F09,  # application version number (terminal)
    0x9F03,  # amount other
)
DE55_OPTIONAL_TAGS = (0x5F34, 0x9F6E, 0x9F41, 0x9F5B)


def build_de55(ctx: TransactionContext) -> dict[int, bytes]:
    """DE 55 objects: the latest GENERATE AC's data (kept in ``ctx.card``) and the
    transaction data; empty or absent objects are left out."""
    out: dict[int, bytes] = {}
    for tag in DE55_TAGS + DE55_OPTIONAL_TAGS:
        value = ctx.get(tag)
        if value:
            out[tag] = value
    return out


def encode_de55(tags: dict[int, bytes]) -> bytes:
    return b"".join(encode_primitive(tag, value) for tag, value in tags.items())


def receipt_data(ctx: TransactionContext, outcome: Outcome, cryptogram_type: str) -> dict[str, str]:
    """Book 4, 11.4 receipt data - masked PAN only."""
    latest = ctx.genac2 or ctx.genac1
    selected = ctx.selected
    lines = {
        "pan": ctx.pan_masked,
        "aid": ctx.card.get(0x84, b"").hex().upper(),
        "application_label": selected.display_name if selected else "",
        "tvr": ctx.tvr.to_bytes().hex().upper(),
        "tsi": ctx.tsi.to_bytes().hex().upper(),
        "cvm_results": ctx.cvm_results.hex().upper(),
        "cryptogram_type": cryptogram_type,
        "cryptogram": latest.get(0x9F26, b"").hex().upper(),
        "atc": latest.get(0x9F36, b"").hex().upper(),
        "decision": outcome.decision.value,
        "signature_required": "yes" if ctx.signature_required else "no",
    }
    psn = ctx.card.get(0x5F34)
    if psn is not None:
        lines["pan_sequence_number"] = psn.hex()
    code = ctx.terminal.get(0x8A)
    if code:
        lines["response_code"] = code.decode("ascii", "replace")
    return lines


def build_result(ctx: TransactionContext, outcome: Outcome) -> KernelResult:
    latest = ctx.genac2 or ctx.genac1
    cid_raw = latest.get(0x9F27)
    cid = cid_raw[0] if cid_raw else None
    de55 = build_de55(ctx) if latest else {}
    kinds = {0x00: "AAC", 0x40: "TC", 0x80: "ARQC"}
    cryptogram_type = kinds.get(cid & 0xC0, "") if cid is not None else ""
    response = ctx.online_response
    online: dict[str, str] = {}
    if response is not None:
        online = {
            "response_code": getattr(response, "response_code", b"").decode("ascii", "replace"),
            "approved": str(getattr(response, "approved", False)).lower(),
        }
    return KernelResult(
        decision=outcome.decision,
        reason=outcome.reason,
        detail=outcome.detail,
        tvr=ctx.tvr.to_bytes(),
        tsi=ctx.tsi.to_bytes(),
        cvm_results=ctx.cvm_results,
        cryptogram=latest.get(0x9F26, b""),
        cid=cid,
        aid=ctx.card.get(0x84, b""),
        de55=encode_de55(de55),
        de55_tags=de55,
        receipt=receipt_data(ctx, outcome, cryptogram_type),
        trace=tuple(ctx.trace),
        fallback_allowed=outcome.fallback_allowed,
        signature_required=ctx.signature_required,
        pan_masked=ctx.pan_masked,
        online_response=online,
        advice_required=cid is not None and bool(cid & 0x08),
    )
