"""What never enters the journal: track data, PIN blocks, MACs, full PANs in clear.

Message fields and EMV data pass through here before they are CBOR-encoded into a row.
"""

from __future__ import annotations

from collections.abc import Mapping

from emv import tlv

# ISO 8583 fields dropped from any stored message: 2 PAN (kept encrypted apart),
# 35 track 2, 36 track 3, 45 track 1, 52 PIN block, 64/128 MAC.
DROPPED_FIELDS = frozenset({2, 35, 36, 45, 52, 64, 128})

# EMV tags holding track data, the PAN or PIN data: 56 track 1, 57 track 2 equivalent,
# 5A PAN, 99 transaction PIN data, 9F1F track 1 discretionary, 9F20 track 2
# discretionary, 9F6B track 2 data (contactless), DF8107/DF8108 kernel-2 track data.
SECRET_TAGS = frozenset({0x56, 0x57, 0x5A, 0x99, 0x9F1F, 0x9F20, 0x9F6B, 0xDF8107, 0xDF8108})


def scrub_tlv(data: bytes) -> bytes:
    """``data`` (BER-TLV) without the secret tags; undecodable data is dropped whole."""
    try:
        items = tlv.decode(data)
    except tlv.TlvError:
        return b""
    return tlv.encode(_keep(items))


def _keep(items: list[tlv.Tlv]) -> list[tlv.Tlv]:
    kept = []
    for item in items:
        if item.tag in SECRET_TAGS:
            continue
        if item.constructed:
            children = _keep(list(item.children))
            # The raw value would still hold what was dropped: re-encode from the children.
            kept.append(tlv.Tlv(item.tag, tlv.encode(children), tuple(children)))
        else:
            kept.append(item)
    return kept


def scrub_fields(fields: Mapping[int, str | bytes]) -> dict[int, str | bytes]:
    """Message fields safe to store: secrets dropped, DE 55 scrubbed."""
    kept: dict[int, str | bytes] = {}
    for number, value in fields.items():
        if number in DROPPED_FIELDS:
            continue
        if number == 55 and isinstance(value, bytes | bytearray):
            value = scrub_tlv(bytes(value))
        kept[number] = value
    return kept


def scrub_emv(data: Mapping[int, bytes]) -> dict[int, bytes]:
    """EMV data (tag → value) safe to store."""
    return {tag: value for tag, value in data.items() if tag not in SECRET_TAGS}
