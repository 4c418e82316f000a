"""Data Object Lists (PDOL, CDOL1/2, DDOL): parse, size and split (Book 3, 5.4)."""

from __future__ import annotations

from sim.errors import SimError


class DolError(SimError):
    """A DOL in a profile is malformed."""


def _read_tag(data: bytes, offset: int) -> tuple[str, int]:
    start = offset
    first = data[offset]
    offset += 1
    if first & 0x1F == 0x1F:
        while offset < len(data) and data[offset] & 0x80:
            offset += 1
        offset += 1
    if offset > len(data):
        raise DolError(f"truncated tag at offset {start}")
    return data[start:offset].hex().upper(), offset


def parse_dol(dol: bytes) -> list[tuple[str, int]]:
    """[(tag hex, length)] in list order."""
    entries: list[tuple[str, int]] = []
    offset = 0
    while offset < len(dol):
        tag, offset = _read_tag(dol, offset)
        if offset >= len(dol):
            raise DolError(f"DOL entry {tag} has no length")
        entries.append((tag, dol[offset]))
        offset += 1
    return entries


def dol_length(dol: bytes) -> int:
    return sum(length for _, length in parse_dol(dol))


def split_dol_data(dol: bytes, data: bytes) -> dict[str, bytes]:
    """The terminal's concatenated DOL data, back into values by tag."""
    values: dict[str, bytes] = {}
    offset = 0
    for tag, length in parse_dol(dol):
        values.setdefault(tag, data[offset : offset + length])
        offset += length
    return values
