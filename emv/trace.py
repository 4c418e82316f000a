"""The APDU trace, masked as it is recorded.

Masking happens before anything is stored, so no full PAN, track data, PIN
block or cardholder name ever sits in the context, the result or a log. What is
masked (card-identifying and PIN data only; cryptograms and signatures stay,
because a lab needs them to debug):

- tags 5A (PAN: first 6 / last 4 kept), 57, 56, 9F6B (track data), 9F1F, 9F20
  (track discretionary data), 5F20, 9F0B (cardholder name);
- the data field of VERIFY (plaintext or enciphered PIN);
- primitive objects whose tag is not in the data dictionary (:mod:`emv.tags`): an
  unknown or corrupted tag may carry anything, a PAN under a flipped tag included;
- top-level primitive objects other than format 1 ('80') and GET DATA answers: a
  record whose '70' became a primitive tag would otherwise show its contents.
"""

from __future__ import annotations

from emv.context import TransactionContext, mask_pan
from emv.outcome import TraceEntry
from emv.tags import TAGS
from emv.tlv import DecodeReport, Tlv, TlvError, decode, encode

SENSITIVE_TAGS = frozenset({0x5A, 0x57, 0x56, 0x9F6B, 0x9F1F, 0x9F20, 0x5F20, 0x9F0B})
PAN_TAG = 0x5A

_NAMES = {
    0xA4: "SELECT",
    0xB2: "READ RECORD",
    0xA8: "GET PROCESSING OPTIONS",
    0xCA: "GET DATA",
    0xAE: "GENERATE AC",
    0x82: "EXTERNAL AUTHENTICATE",
    0x88: "INTERNAL AUTHENTICATE",
    0x84: "GET CHALLENGE",
    0x20: "VERIFY",
    0x1E: "APPLICATION BLOCK",
    0x18: "APPLICATION UNBLOCK",
    0x16: "CARD BLOCK",
    0x24: "PIN CHANGE/UNBLOCK",
    0xDA: "PUT DATA",
    0xDC: "UPDATE RECORD",
}


def command_name(command: bytes) -> str:
    if len(command) < 4:
        return "?"
    return _NAMES.get(command[1], f"INS {command[1]:02X}")


def _mask_value(tag: int, value: bytes) -> bytes:
    if tag == PAN_TAG:
        digits = value.hex().upper().rstrip("F")
        masked = mask_pan(digits).replace("*", "F")  # F: never a PAN digit
        padded = masked + "F" * (len(value) * 2 - len(masked))
        return bytes.fromhex(padded[: len(value) * 2])
    return bytes(len(value))


# Primitive objects a card may answer with at the top level, by command: format 1
# '80' (GPO, GENERATE AC, INTERNAL AUTHENTICATE), the GET DATA objects; none for
# SELECT and READ RECORD. Any other top-level primitive is a template gone wrong and
# may hold a record, so its value is masked.
TOP_LEVEL_PRIMITIVES = frozenset({0x80, 0x9F36, 0x9F13, 0x9F17, 0x9F4F, 0x9F14, 0x9F23})
_TOP_LEVEL_BY_INS = {
    0xA4: frozenset(),
    0xB2: frozenset(),
    0xCA: frozenset({0x9F36, 0x9F13, 0x9F17, 0x9F4F, 0x9F14, 0x9F23}),
}


def _mask_items(items: list[Tlv] | tuple[Tlv, ...], top: frozenset[int] | None = None) -> list[Tlv]:
    out = []
    for item in items:
        if item.children:
            out.append(Tlv(item.tag, b"", tuple(_mask_items(item.children))))
        elif (
            item.tag in SENSITIVE_TAGS
            or item.tag not in TAGS
            or (top is not None and item.tag not in top)
        ):
            out.append(Tlv(item.tag, _mask_value(item.tag, item.value)))
        else:
            out.append(item)
    return out


def _describe(items: list[Tlv] | tuple[Tlv, ...], top: frozenset[int] | None = None) -> str:
    parts = []
    for item in items:
        if item.children:
            parts.append(f"{item.tag:02X}[{_describe(item.children)}]")
        elif item.tag == PAN_TAG:
            parts.append(f"5A={mask_pan(item.value.hex().upper().rstrip('F'))}")
        elif (
            item.tag in SENSITIVE_TAGS
            or item.tag not in TAGS
            or (top is not None and item.tag not in top)
        ):
            parts.append(f"{item.tag:02X}=<{len(item.value)} bytes masked>")
        else:
            parts.append(f"{item.tag:02X}={item.value.hex().upper()}")
    return " ".join(parts)


def mask_response(
    data: bytes, top_level: frozenset[int] = TOP_LEVEL_PRIMITIVES
) -> tuple[bytes, str]:
    """Masked response data and a decoded one-line description; ``top_level`` names
    the primitive objects the command may answer with outside a template."""
    if not data:
        return b"", ""
    report = DecodeReport()
    try:
        items = decode(data, strict=False, report=report)
    except TlvError:
        items = []
    if not items or report.quirks:
        # Not clean TLV: a sensitive value could hide anywhere, so keep none of it.
        return bytes(len(data)), f"<{len(data)} bytes, not TLV, masked>"
    masked = _mask_items(items, top_level)
    try:
        return encode(masked), _describe(masked, top_level)
    except TlvError:
        return bytes(len(data)), f"<{len(data)} bytes masked>"


def mask_command(command: bytes) -> bytes:
    if len(command) > 5 and command[1] == 0x20:  # VERIFY: PIN data never kept
        return command[:5] + bytes(len(command) - 5)
    return bytes(command)


def record(ctx: TransactionContext, command: bytes, raw_response: bytes) -> None:
    name = command_name(command)
    sw = raw_response[-2:] if len(raw_response) >= 2 else b""
    data = raw_response[:-2] if len(raw_response) >= 2 else raw_response
    if command[1:2] == b"\x84":  # GET CHALLENGE: a random number, nothing to hide
        masked_data, description = bytes(data), f"challenge={bytes(data).hex().upper()}"
    else:
        ins = command[1] if len(command) > 1 else -1
        allowed = _TOP_LEVEL_BY_INS.get(ins, TOP_LEVEL_PRIMITIVES)
        masked_data, description = mask_response(data, allowed)
    text = f"{name} -> {sw.hex().upper() or 'no SW'}"
    if description:
        text += f" {description}"
    ctx.trace.append(TraceEntry(ctx.step, mask_command(command), masked_data + sw, text))


def scrub(
    entries: list[TraceEntry] | tuple[TraceEntry, ...], pans: set[str]
) -> tuple[TraceEntry, ...]:
    """Mask every occurrence of the given PANs (BCD hex digits) left in a trace.

    Per-object masking cannot recognise a PAN under a corrupted tag; once the
    transaction knows the PAN (5A, or 57 / 9F6B track data), this removes it
    wherever it still shows, in the responses and in the descriptions.
    """
    pans = {pan for pan in pans if len(pan) >= 12}
    if not pans:
        return tuple(entries)
    out = []
    for entry in entries:
        response = entry.response.hex().upper()
        text = entry.description
        for pan in pans:
            hidden = mask_pan(pan).replace("*", "F")
            response = response.replace(pan, hidden)
            text = text.replace(pan, mask_pan(pan))
        out.append(TraceEntry(entry.step, entry.command, bytes.fromhex(response), text))
    return tuple(out)


def format_trace(entries: list[TraceEntry] | tuple[TraceEntry, ...]) -> str:
    """Human-readable trace, one exchange per two lines."""
    lines = []
    for entry in entries:
        lines.append(f"[{entry.step}] >> {entry.command.hex().upper()}")
        lines.append(f"[{entry.step}] << {entry.response.hex().upper()}  {entry.description}")
    return "\n".join(lines)
