"""BER-TLV as EMV Book 3 Annex B uses it, decoded fast enough for every APDU.

# EMV 4.4 Book 3, Annex B: tags of one or more bytes (b5-b1 of the first byte all
# set means more tag bytes follow; b8 of each following byte set means another),
# lengths in short form (one byte < 0x80) or long form (0x81-0x83 then 1-3 bytes),
# constructed objects (b6 of the first tag byte) nest, and 00 bytes may pad
# before, between and after objects (Annex B1; Specification Update 69).

Decoding is strict by default: a truncated object, a length that runs past its
container or a malformed tag raises :class:`TlvError` with the byte offset.
Lenient mode tolerates quirks real cards show and records each one in
:attr:`DecodeReport.quirks` instead of failing.

Padding: 00 is always padding. FF is padding too (erased EEPROM; ISO/IEC 7816-4
forbids FF as a first tag byte) except when followed by 81, because the contactless
kernels define FF81xx templates (EMV Contactless Book C-2 Torn Record, Data Record).

Speed: a kernel decodes a handful of responses per transaction, but the journal,
trace and replay tools decode thousands. :class:`Tlv` is therefore a NamedTuple
(immutable, slotted, built by ``tuple.__new__``), and the strict path is one tight
loop with no per-object bookkeeping; lenient decoding is a separate, slower path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from emv.errors import EmvError

MAX_LENGTH_BYTES = 3
MAX_TAG_BYTES = 4
MAX_DEPTH = 16


class TlvError(EmvError):
    """Malformed BER-TLV; ``offset`` is the byte where the problem starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


class Tlv(NamedTuple):
    """One data object. ``children`` is filled for constructed tags only.

    For a decoded constructed object ``value`` holds its raw contents (padding
    included); :func:`encode` rebuilds a constructed object from ``children``
    whenever there are any.
    """

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
    """b6 of the first tag byte (EMV 4.4 Book 3, Annex B1)."""
    return bool(tag_bytes(tag)[0] & 0x20)


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
        In lenient mode, only when no sensible reading exists at all (a bad tag
        or length form in the middle of the data, nesting deeper than 16).
    """
    if type(data) is not bytes:
        data = bytes(data)
    if strict:
        try:
            return _fast(data)
        except (_Doubt, IndexError):
            # Unusual or malformed input: the careful parser decides and, if it
            # is malformed, names the problem and its offset.
            return _strict(data, 0, len(data), 0)
    return _lenient(data, 0, len(data), 0, report if report is not None else DecodeReport())


_new = tuple.__new__


class _Doubt(Exception):
    """The fast path met something it does not handle; the careful path decides."""


def _fast(data: bytes) -> list[Tlv]:
    # The hot loop, optimistic: one- and two-byte tags, 00 padding, templates
    # nested with an explicit stack. Anything else (FF, 3-4 byte tags, bad length
    # forms, overruns, truncation: an IndexError at the end) raises _Doubt or
    # IndexError and decode() re-reads the data with _strict. It only has to be
    # right when it returns; tests compare it with _strict on random input.
    position = 0
    end = len(data)
    items: list[Tlv] = []
    stack: list[tuple[list[Tlv], int, int, int]] = []
    while True:
        if position >= end:
            if not stack:
                return items
            parent, end, tag, start = stack.pop()
            parent.append(_new(Tlv, (tag, data[start:position], tuple(items))))
            items = parent
            continue
        first = data[position]
        if first & 0x1F == 0x1F:
            if first == 0xFF:
                raise _Doubt
            second = data[position + 1]
            if not 0 < second < 0x80:
                raise _Doubt
            tag = (first << 8) | second
            length = data[position + 2]
            position += 3
        elif first:
            tag = first
            length = data[position + 1]
            position += 2
        else:
            position += 1  # Annex B1 padding
            continue
        if length & 0x80:
            size = length - 0x80
            if not 0 < size <= MAX_LENGTH_BYTES:
                raise _Doubt
            length = int.from_bytes(data[position : position + size], "big")
            position += size
        value_end = position + length
        if value_end > end:
            raise _Doubt
        if first & 0x20 and length:
            if len(stack) >= MAX_DEPTH:
                raise _Doubt
            stack.append((items, end, tag, position))
            items = []
            end = value_end
            continue
        items.append(_new(Tlv, (tag, data[position:value_end], ())))
        position = value_end


def _strict(data: bytes, position: int, end: int, depth: int) -> list[Tlv]:
    """The careful strict parser: precise errors, every padding and tag form."""
    items: list[Tlv] = []
    while position < end:
        first = data[position]
        if first == 0x00 or (first == 0xFF and (position + 1 >= end or data[position + 1] != 0x81)):
            position += 1  # Annex B1 padding (FF unless an FF81xx tag)
            continue
        tag_start = position
        tag = first
        position += 1
        if first & 0x1F == 0x1F:
            position, tag = _long_tag(data, tag_start, end, True, None)
        if position >= end:
            raise TlvError(f"tag {tag:02X} has no length", tag_start)
        length_offset = position
        length = data[position]
        position += 1
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > MAX_LENGTH_BYTES:
                raise TlvError(f"tag {tag:02X}: bad length form {length:#04x}", length_offset)
            if position + size > end:
                raise TlvError(f"tag {tag:02X}: length bytes truncated", length_offset)
            length = int.from_bytes(data[position : position + size], "big")
            position += size
        value_end = position + length
        if value_end > end:
            raise TlvError(
                f"tag {tag:02X}: length {length} overruns its container by {value_end - end}",
                length_offset,
            )
        children: tuple[Tlv, ...] = ()
        if first & 0x20 and length:
            if depth >= MAX_DEPTH:
                raise TlvError(f"templates nested more than {MAX_DEPTH} deep", tag_start)
            children = tuple(_strict(data, position, value_end, depth + 1))
        items.append(_new(Tlv, (tag, data[position:value_end], children)))
        position = value_end
    return items


def _long_tag(
    data: bytes, tag_start: int, end: int, strict: bool, report: DecodeReport | None
) -> tuple[int, int]:
    """Read the subsequent tag bytes; returns (position after the tag, tag)."""
    position = tag_start + 1
    tag = data[tag_start]
    while True:
        if position >= end:
            raise TlvError("tag runs past the end of the data", tag_start)
        following = data[position]
        if position == tag_start + 1 and following & 0x7F == 0:
            # ISO/IEC 8825-1 8.1.2.4.2 c: b7-b1 of the first subsequent byte not all 0.
            if strict:
                raise TlvError(f"bad tag byte {following:02X} after {tag:02X}", tag_start)
            if report is not None:
                report.quirks.append((tag_start, f"tag byte {following:02X} after {tag:02X}"))
        position += 1
        tag = (tag << 8) | following
        if not following & 0x80:
            return position, tag
        if position - tag_start >= MAX_TAG_BYTES:
            raise TlvError(f"tag longer than {MAX_TAG_BYTES} bytes", tag_start)


def _lenient(data: bytes, position: int, end: int, depth: int, report: DecodeReport) -> list[Tlv]:
    items: list[Tlv] = []
    quirks = report.quirks
    while position < end:
        first = data[position]
        if first == 0x00 or (first == 0xFF and (position + 1 >= end or data[position + 1] != 0x81)):
            position += 1
            continue
        tag_start = position
        tag = first
        position += 1
        if first & 0x1F == 0x1F:
            try:
                position, tag = _long_tag(data, tag_start, end, False, report)
            except TlvError:
                if _only_tail(data, tag_start, end):
                    quirks.append((tag_start, "truncated tag at the end ignored"))
                    break
                raise
        if position >= end:
            quirks.append((tag_start, f"tag {tag:02X} without a length at the end ignored"))
            break
        length_offset = position
        length = data[position]
        position += 1
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > MAX_LENGTH_BYTES:
                raise TlvError(f"tag {tag:02X}: bad length form {length:#04x}", length_offset)
            if position + size > end:
                quirks.append((length_offset, f"tag {tag:02X}: length bytes cut off at the end"))
                break
            length = int.from_bytes(data[position : position + size], "big")
            position += size
        value_end = position + length
        if value_end > end:
            quirks.append(
                (
                    length_offset,
                    f"tag {tag:02X}: length {length} overruns by {value_end - end}, cut",
                )
            )
            value_end = end
        value = data[position:value_end]
        children: tuple[Tlv, ...] = ()
        if first & 0x20 and value:
            if depth >= MAX_DEPTH:
                raise TlvError(f"templates nested more than {MAX_DEPTH} deep", tag_start)
            inner = DecodeReport()
            try:
                children = tuple(_lenient(data, position, value_end, depth + 1, inner))
            except TlvError as error:
                quirks.append(
                    (position, f"tag {tag:02X}: template value is not TLV ({error}), kept raw")
                )
            else:
                quirks.extend(inner.quirks)
        items.append(_new(Tlv, (tag, value, children)))
        position = value_end
    return items


def _only_tail(data: bytes, start: int, end: int) -> bool:
    """True when nothing but a cut-off tag remains (a quirk, not garbage)."""
    return end - start <= MAX_TAG_BYTES


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
