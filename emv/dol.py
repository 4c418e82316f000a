"""Data Object Lists: parse a DOL and build the data field it asks for.

A DOL (PDOL, CDOL1/2, DDOL, TDOL, UDOL) is a list of tag + length pairs without
values; the terminal answers with the concatenated values, each forced to the
listed length by the padding and truncation rules of EMV 4.4 Book 3, 5.4, which
depend on the element's format in :mod:`emv.tags`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from emv.errors import EmvError
from emv.tags import Format, format_of


class DolError(EmvError):
    """A malformed DOL; ``offset`` is where the bad entry starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at DOL offset {offset}")
        self.offset = offset


@dataclass(frozen=True, slots=True)
class DolEntry:
    """One tag + length of a DOL."""

    tag: int
    length: int

    @property
    def constructed(self) -> bool:
        first = self.tag >> (8 * ((self.tag.bit_length() - 1) // 8)) if self.tag else 0
        return bool(first & 0x20)


def parse(dol: bytes) -> list[DolEntry]:
    """Split a DOL into entries (EMV 4.4 Book 3, 5.4: tag then one-byte length).

    Lengths use the BER-TLV length encoding, so 0x81 xx is accepted too.

    Raises
    ------
    DolError
        For a tag or length running past the end, or a tag longer than 4 bytes.
    """
    entries: list[DolEntry] = []
    position = 0
    end = len(dol)
    while position < end:
        start = position
        tag = dol[position]
        position += 1
        if tag & 0x1F == 0x1F:
            while True:
                if position >= end:
                    raise DolError("tag runs past the end", start)
                following = dol[position]
                position += 1
                tag = (tag << 8) | following
                if not following & 0x80:
                    break
                if position - start >= 4:
                    raise DolError("tag longer than 4 bytes", start)
        if position >= end:
            raise DolError(f"tag {tag:02X} has no length", start)
        length = dol[position]
        position += 1
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 2 or position + size > end:
                raise DolError(f"tag {tag:02X}: bad length {length:#04x}", start)
            length = int.from_bytes(dol[position : position + size], "big")
            position += size
        entries.append(DolEntry(tag, length))
    return entries


def fit(value: bytes, length: int, fmt: Format | None) -> bytes:
    """Force ``value`` to ``length`` bytes as EMV 4.4 Book 3, 5.4 c and d say.

    Longer: numeric (n) loses its leftmost bytes, every other format its rightmost.
    Shorter: n gets leading 00, cn trailing FF, everything else trailing 00.
    """
    size = len(value)
    if size == length:
        return value
    if size > length:
        # 5.4 c: truncation
        return value[size - length :] if fmt is Format.N else value[:length]
    # 5.4 d: padding
    pad = length - size
    if fmt is Format.N:
        return bytes(pad) + value
    if fmt is Format.CN:
        return value + b"\xff" * pad
    return value + bytes(pad)


def build(dol: bytes | list[DolEntry], data: Mapping[int, bytes]) -> bytes:
    """The DOL-related data field: each listed element's value fitted to its length.

    Unknown or constructed tags and elements absent from ``data`` give zeros of the
    listed length (EMV 4.4 Book 3, 5.4 a, b and e).

    Raises
    ------
    DolError
        When ``dol`` is given as bytes and is malformed.
    """
    entries = parse(dol) if isinstance(dol, bytes | bytearray) else dol
    out = bytearray()
    for entry in entries:
        fmt = format_of(entry.tag)
        value = data.get(entry.tag)
        if fmt is None or fmt is Format.VAR or entry.constructed or value is None:
            out += bytes(entry.length)  # 5.4 a, b, e
        else:
            out += fit(value, entry.length, fmt)
    return bytes(out)


def total_length(dol: bytes | list[DolEntry]) -> int:
    """Length of the data field :func:`build` will produce."""
    entries = parse(dol) if isinstance(dol, bytes | bytearray) else dol
    return sum(entry.length for entry in entries)
