"""DE 48 private sub-elements: repeated ``TT`` + 3-digit length + value (host-spec DE 48).

Order is kept (a list of pairs) so what was received re-encodes to the same bytes; tags
are two characters of [A-Z0-9]; a value is at most 999 characters and the whole field at
most 999 (the LLLVAR limit).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from terminal.errors import TerminalError

_TAG = re.compile(r"^[A-Z0-9]{2}$")
MAX_DE48 = 999

# host-spec DE 48 sub-elements.
KSN = "KS"
QR_CODE = "QR"
VOUCHER = "VC"
LOYALTY = "LY"
OPERATOR = "OP"
BATCH = "BN"


class De48Error(TerminalError):
    """Malformed DE 48; ``offset`` is where in the field it went wrong."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"DE 48 at offset {offset}: {message}")
        self.offset = offset


def encode(items: Iterable[tuple[str, str]] | Mapping[str, str]) -> str:
    pairs = items.items() if isinstance(items, Mapping) else items
    out = []
    for tag, value in pairs:
        if not _TAG.match(tag):
            raise De48Error(f"tag {tag!r} is not two characters A-Z/0-9", 0)
        if len(value) > 999 or not value.isascii():
            raise De48Error(f"value of {tag} is not ASCII or longer than 999", 0)
        out.append(f"{tag}{len(value):03d}{value}")
    text = "".join(out)
    if len(text) > MAX_DE48:
        raise De48Error(f"field is {len(text)} characters, more than {MAX_DE48}", len(text))
    return text


def decode(text: str) -> list[tuple[str, str]]:
    items = []
    offset = 0
    while offset < len(text):
        if offset + 5 > len(text):
            raise De48Error("truncated sub-element header", offset)
        tag, length = text[offset : offset + 2], text[offset + 2 : offset + 5]
        if not _TAG.match(tag):
            raise De48Error(f"bad tag {tag!r}", offset)
        if not length.isdigit():
            raise De48Error("length is not 3 digits", offset + 2)
        end = offset + 5 + int(length)
        if end > len(text):
            raise De48Error(f"{tag} runs past the end of the field", offset)
        items.append((tag, text[offset + 5 : end]))
        offset = end
    return items


def get(text: str, tag: str) -> str | None:
    for item_tag, value in decode(text):
        if item_tag == tag:
            return value
    return None


def replace(text: str, tag: str, value: str | None) -> str:
    """``text`` with sub-element ``tag`` set (appended if new) or removed (None)."""
    items = [(t, v) for t, v in decode(text) if t != tag]
    if value is not None:
        items.append((tag, value))
    return encode(items)
