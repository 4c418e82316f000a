"""EMVCo QR code payloads, both modes.

Merchant-presented mode (EMV QRCPS-MPM): a string of data objects, each a 2-digit ID,
a 2-digit length counted in characters (not bytes) and the value. ID "00" (payload
format indicator) comes first and ID "63" (CRC) last; the CRC is CRC-16/CCITT-FALSE
(polynomial 0x1021, initial 0xFFFF) over the whole payload up to and including "6304",
written as 4 upper-case hex digits. IDs 26-51, 62, 64 and 80-99 are templates whose
values are data objects again.

Consumer-presented mode (EMV QRCPS-CPM): base64 text of BER-TLV, starting with the
payload format indicator (tag 85, "CPV01") and one or more application templates (61).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TypeAlias

from emv.errors import EmvError
from emv.tlv import Tlv, TlvError, decode

QrValue: TypeAlias = str | dict[str, "QrValue"]

MAX_PAYLOAD_CHARS = 512
TEMPLATE_IDS = frozenset(
    {f"{n:02d}" for n in range(26, 52)} | {"62", "64"} | {f"{n:02d}" for n in range(80, 100)}
)


class QrError(EmvError):
    """A malformed QR payload; names the field or the character offset."""

    def __init__(self, message: str, offset: int | None = None, field: str | None = None):
        where = []
        if field is not None:
            where.append(f"field {field}")
        if offset is not None:
            where.append(f"offset {offset}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
        self.offset = offset
        self.field = field


@dataclass(frozen=True, slots=True)
class QrPayload:
    mode: str  # "mpm" or "cpm"
    # True once the payload passed its integrity check: the CRC for MPM; CPM carries
    # no CRC, so for it True means the base64 and BER-TLV decoded cleanly.
    crc_ok: bool
    fields: dict[str, QrValue]


# CPM objects that carry the PAN or track data: shown masked, first 6 / last 4 digits
# of the PAN, as everywhere else posterm prints card data.
_SENSITIVE_CPM_TAGS = frozenset({0x5A, 0x57, 0x9F6B, 0x56, 0x9F1F, 0x9F20})


def crc16_ccitt_false(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _objects(text: str, base: int, parent: str | None) -> list[tuple[str, str, int]]:
    """Split ``text`` into (id, value, offset) triples; offsets are absolute."""
    out: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        offset = base + position
        head = text[position : position + 4]
        if len(head) < 4:
            raise QrError("truncated data object header", offset, parent)
        object_id, length_text = head[:2], head[2:]
        if not (object_id.isascii() and object_id.isdigit()):
            raise QrError(f"data object ID {object_id!r} is not two digits", offset, parent)
        if not (length_text.isascii() and length_text.isdigit()):
            raise QrError(f"length {length_text!r} is not two digits", offset + 2, object_id)
        length = int(length_text)
        value = text[position + 4 : position + 4 + length]
        if len(value) < length:
            raise QrError(f"length {length} runs past the end", offset + 2, object_id)
        out.append((object_id, value, offset + 4))
        position += 4 + length
    return out


def _fields(text: str, base: int, parent: str | None, nested: bool) -> dict[str, QrValue]:
    fields: dict[str, QrValue] = {}
    for object_id, value, offset in _objects(text, base, parent):
        if object_id in fields:
            raise QrError("duplicate data object", offset - 4, object_id)
        if nested and object_id in TEMPLATE_IDS:
            try:
                fields[object_id] = _fields(value, offset, object_id, nested=False)
            except QrError:
                # A template ID holding a plain value (some schemes do): keep the text.
                fields[object_id] = value
        else:
            fields[object_id] = value
    return fields


def decode_mpm(payload: str) -> QrPayload:
    """Decode a merchant-presented payload; raises QrError unless well formed."""
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise QrError(f"payload longer than {MAX_PAYLOAD_CHARS} characters", MAX_PAYLOAD_CHARS)
    top = _objects(payload, 0, None)
    if not top or top[0][0] != "00":
        raise QrError("payload format indicator (ID 00) must come first", 0, "00")
    if top[0][1] != "01":
        raise QrError("payload format indicator must be 01", 4, "00")
    last_id, crc_text, crc_offset = top[-1]
    if last_id != "63":
        raise QrError("CRC (ID 63) must be the last data object", crc_offset - 4, "63")
    if len(crc_text) != 4:
        raise QrError("CRC must be 4 hex digits", crc_offset, "63")
    try:
        stated = int(crc_text, 16)
    except ValueError:
        raise QrError("CRC is not hex", crc_offset, "63") from None
    computed = crc16_ccitt_false(payload[:crc_offset].encode("utf-8"))
    fields = _fields(payload, 0, None, nested=True)
    if computed != stated:
        raise QrError(f"CRC mismatch: stated {crc_text}, computed {computed:04X}", crc_offset, "63")
    return QrPayload("mpm", True, fields)


def _masked_hex(value: bytes) -> str:
    """PAN / track 2 digits kept to first 6 and last 4; anything else hidden."""
    digits = value.hex().upper()
    pan = digits.split("D", 1)[0].rstrip("F")
    if 12 <= len(pan) <= 19 and pan.isdigit():
        return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
    return "*" * len(digits)


def _tlv_fields(items: list[Tlv]) -> dict[str, QrValue]:
    out: dict[str, QrValue] = {}
    for item in items:
        key = f"{item.tag:X}"
        if item.children:
            out[key] = _tlv_fields(list(item.children))
        elif item.tag in _SENSITIVE_CPM_TAGS:
            out[key] = _masked_hex(item.value)
        else:
            out[key] = item.value.hex().upper()
    return out


def decode_cpm(payload: str) -> QrPayload:
    """Decode a consumer-presented payload (base64 BER-TLV)."""
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise QrError("consumer-presented payload is not valid base64", 0) from None
    try:
        items = decode(raw)
    except TlvError as error:
        raise QrError(f"consumer-presented payload: {error}", error.offset) from None
    if not items or items[0].tag != 0x85:
        raise QrError("payload format indicator (tag 85) must come first", 0, "85")
    if items[0].value != b"CPV01":
        raise QrError("payload format indicator must be CPV01", 0, "85")
    if not any(item.tag == 0x61 for item in items):
        raise QrError("no application template (tag 61)", None, "61")
    return QrPayload("cpm", True, _tlv_fields(items))


def decode_qr(payload: str) -> QrPayload:
    """Either mode: MPM payloads start with "000201", anything else is tried as CPM."""
    payload = payload.strip()
    if payload.startswith("00"):
        return decode_mpm(payload)
    return decode_cpm(payload)
