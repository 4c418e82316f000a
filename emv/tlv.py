"""BER-TLV as EMV Book 3 Annex B uses it.

# EMV 4.4 Book 3, Annex B: tags of one or more bytes (b5-b1 of the first byte all
# set means more tag bytes follow; b8 of each following byte set means another),
# lengths in short form (one byte < 0x80) or long form (0x81-0x83 then 1-3 bytes),
# constructed objects (b6 of the first tag byte) nest, and 00 or FF bytes may pad
# before, between and after objects.

Decoding is strict by default: a truncated object, a length that runs past its
container or a malformed tag raises :class:`TlvError` with the byte offset.
Lenient mode tolerates quirks real cards show and records each one in
:attr:`DecodeReport.quirks` instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from emv.errors import EmvError

MAX_LENGTH_BYTES = 3


class TlvError(EmvError):
    """Malformed BER-TLV; ``offset`` is the byte where the problem starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Tlv:
    """One data object. ``children`` is filled for constructed tags only."""

    tag: int
    value: bytes
    children: tuple[Tlv, ...] = ()

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def find(self, tag: int) -> Tlv | None:
        """The first object with ``tag`` in this subtree (depth first), or None."""
        for item in walk(self.children):
            if item.tag == tag:
                return item
        return None


@dataclass(slots=True)
class DecodeReport:
    """What lenient decoding tolerated: (offset, description) pairs."""

    quirks: list[tuple[int, str]] = field(default_factory=list)


def tag_bytes(tag: int) -> bytes:
    """The tag number as its encoded bytes (0x9F02 -> b'\\x9f\\x02')."""
    if tag < 0:
        raise TlvError(f"negative tag {tag}", 0)
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def is_constructed(tag: int) -> bool:
    first = tag_bytes(tag)[0]
    return bool(first & 0x20)


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    if size > MAX_LENGTH_BYTES:
        raise TlvError(f"length {length} needs more than {MAX_LENGTH_BYTES} length bytes", 0)
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def encode(items: Iterable[Tlv]) -> bytes:
    """Encode objects; a constructed object with children is encoded from them."""
    out = bytearray()
    for item in items:
        value = encode(item.children) if item.children else item.value
        out += tag_bytes(item.tag)
        out += encode_length(len(value))
        out += value
    return bytes(out)


def encode_primitive(tag: int, value: bytes) -> bytes:
    """Shortcut for one primitive object."""
    return tag_bytes(tag) + encode_length(len(value)) + value


def decode(data: bytes, *, strict: bool = True, report: DecodeReport | None = None) -> list[Tlv]:
    """Decode a sequence of BER-TLV objects, descending into constructed ones.

    Raises
    ------
    TlvError
        In strict mode, for any malformed input (with the offset).
        In lenient mode, only when no sensible reading exists at all.
    """
    if report is None:
        report = DecodeReport()
    items, _ = _decode_range(bytes(data), 0, len(data), strict, report, 0)
    return items


def _decode_range(
    data: bytes, start: int, end: int, strict: bool, report: DecodeReport, depth: int
) -> tuple[list[Tlv], int]:
    if depth > 16:
        raise TlvError("templates nested more than 16 deep", start)
    items: list[Tlv] = []
    position = start
    while position < end:
        first = data[position]
        if first == 0x00 or first == 0xFF:
            # Book 3 Annex B: padding before, between or after objects.
            position += 1
            continue
        tag_start = position
        tag = first
        position += 1
        if first & 0x1F == 0x1F:
            while True:
                if position >= end:
                    raise TlvError("tag runs past the end of the data", tag_start)
                following = data[position]
                position += 1
                tag = (tag << 8) | following
                if not following & 0x80:
                    break
                if position - tag_start > 4:
                    raise TlvError("tag longer than 4 bytes", tag_start)
        if position >= end:
            if not strict:
                report.quirks.append((tag_start, f"tag {tag:X} without a length at the end"))
                break
            raise TlvError(f"tag {tag:X} has no length", tag_start)
        length_offset = position
        length = data[position]
        position += 1
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > MAX_LENGTH_BYTES:
                raise TlvError(f"tag {tag:X}: bad length form {length:#04x}", length_offset)
            if position + size > end:
                raise TlvError(f"tag {tag:X}: length bytes truncated", length_offset)
            length = int.from_bytes(data[position : position + size], "big")
            position += size
        value_end = position + length
        if value_end > end:
            if strict:
                raise TlvError(
                    f"tag {tag:X}: length {length} overruns the data by {value_end - end}",
                    length_offset,
                )
            report.quirks.append((length_offset, f"tag {tag:X}: length overrun, truncated"))
            value_end = end
        value = data[position:value_end]
        children: tuple[Tlv, ...] = ()
        if tag_start < end and data[tag_start] & 0x20 and value:
            try:
                nested, _ = _decode_range(data, position, value_end, strict, report, depth + 1)
            except TlvError:
                if strict:
                    raise
                report.quirks.append((position, f"tag {tag:X}: constructed value not TLV"))
                nested = []
            children = tuple(nested)
        items.append(Tlv(tag, value, children))
        position = value_end
    return items, position


def walk(items: Iterable[Tlv]) -> Iterator[Tlv]:
    """Every object in the trees, depth first, parents before children."""
    for item in items:
        yield item
        if item.children:
            yield from walk(item.children)


def flatten(items: Iterable[Tlv]) -> dict[int, bytes]:
    """Primitive objects by tag (first occurrence wins), for data dictionaries."""
    out: dict[int, bytes] = {}
    for item in walk(items):
        if not item.children and item.tag not in out:
            out[item.tag] = item.value
    return out
