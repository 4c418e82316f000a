"""BER-TLV codec: EMV 4.4 Book 3 Annex B rules, strict errors, lenient quirks.

Property tests: decode(encode(x)) == x for generated trees (one- to four-byte
tags, short and long lengths, nesting); random bytes raise nothing but TlvError;
the optimistic fast path agrees with the careful parser on every input.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emv import tlv
from emv.errors import EmvError
from emv.tlv import DecodeReport, Tlv, TlvError, decode, encode

# ---------------------------------------------------------------- strategies


@st.composite
def tag_numbers(draw: st.DrawFn, constructed: bool) -> int:
    """A well-formed tag of 1-4 bytes (Annex B1), never a padding byte."""
    cls = draw(st.sampled_from([0x00, 0x40, 0x80, 0xC0]))
    first = cls | (0x20 if constructed else 0)
    size = draw(st.integers(1, 4))
    if size == 1:
        low = draw(st.integers(1 if first == 0 else 0, 0x1E))
        return first | low
    first |= 0x1F
    if first == 0xFF:
        # FF is padding unless an FF81xx tag follows (Book C-2 templates).
        following = [0x81] + [draw(st.integers(0x81, 0xFF)) for _ in range(size - 3)]
    else:
        following = [draw(st.integers(0x81, 0xFF)) for _ in range(size - 2)]
    # b7-b1 of the first subsequent byte are never all zero (ISO/IEC 8825-1).
    last = draw(st.integers(0x00 if following else 0x01, 0x7F))
    raw = bytes([first, *following, last])
    return int.from_bytes(raw, "big")


def primitives() -> st.SearchStrategy[Tlv]:
    return st.builds(Tlv, tag_numbers(constructed=False), st.binary(max_size=300), st.just(()))


def _template(tag: int, children: list[Tlv]) -> Tlv:
    return Tlv(tag, encode(children), tuple(children))


trees = st.recursive(
    primitives(),
    lambda inner: st.builds(_template, tag_numbers(constructed=True), st.lists(inner, max_size=4)),
    max_leaves=12,
)


# ---------------------------------------------------------------- round trips


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trees, max_size=5))
def test_decode_inverts_encode(items: list[Tlv]) -> None:
    assert decode(encode(items)) == items
    assert decode(encode(items), strict=False) == items


@given(st.lists(trees, max_size=5), st.data())
def test_zero_padding_between_objects_is_ignored(items: list[Tlv], data: st.DataObject) -> None:
    """Book 3 Annex B1: 00 bytes may come before, between and after objects."""
    parts = [encode([item]) for item in items]
    pads = [bytes(data.draw(st.integers(0, 3))) for _ in range(len(parts) + 1)]
    padded = pads[0] + b"".join(part + pad for part, pad in zip(parts, pads[1:], strict=True))
    assert decode(padded) == items


@pytest.mark.parametrize(
    ("length", "header"),
    [(0, "00"), (0x7F, "7F"), (0x80, "8180"), (0xFF, "81FF"), (0x100, "820100"),
     (0xFFFF, "82FFFF"), (0x10000, "83010000")],
)  # fmt: skip
def test_length_forms(length: int, header: str) -> None:
    value = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    encoded = tlv.encode_primitive(0x9F10, value)
    assert encoded[:2] == b"\x9f\x10"
    assert encoded[2 : 2 + len(header) // 2].hex().upper() == header
    assert decode(encoded) == [Tlv(0x9F10, value)]


def test_non_minimal_long_length_is_accepted() -> None:
    """Cards send 81 05 where 05 would do; BER allows it."""
    assert decode(bytes.fromhex("5A8105476173900F")) == [Tlv(0x5A, bytes.fromhex("476173900F"))]


def test_length_over_three_bytes_cannot_be_encoded() -> None:
    with pytest.raises(TlvError):
        tlv.encode_length(1 << 24)


def test_nested_templates_and_find() -> None:
    data = bytes.fromhex("6F1A840E315041592E5359532E4444463031A5088801025F2D02656E")
    (fci,) = decode(data)
    assert fci.tag == 0x6F and fci.constructed
    assert [child.tag for child in fci.children] == [0x84, 0xA5]
    assert fci.find(0x5F2D) == Tlv(0x5F2D, b"en")
    assert fci.find(0x9F38) is None
    assert [item.tag for item in tlv.walk([fci])] == [0x6F, 0x84, 0xA5, 0x88, 0x5F2D]
    assert tlv.flatten([fci]) == {0x84: b"1PAY.SYS.DDF01", 0x88: b"\x02", 0x5F2D: b"en"}


def test_ff_padding_and_ff81_templates() -> None:
    # FF pads (erased EEPROM) ...
    assert decode(bytes.fromhex("FFFF9F360200FFFF")) == [Tlv(0x9F36, b"\x00\xff")]
    # ... but FF81xx is a tag (EMV Contactless Book C-2 FF8105 Data Record).
    record = decode(bytes.fromhex("FF8105079F360200019A00"))
    assert record == [
        Tlv(0xFF8105, bytes.fromhex("9F360200019A00"), (Tlv(0x9F36, b"\x00\x01"), Tlv(0x9A, b"")))
    ]


def test_accepts_bytearray_and_memoryview() -> None:
    raw = bytes.fromhex("9F360200FF")
    assert decode(bytearray(raw)) == decode(memoryview(raw)) == [Tlv(0x9F36, b"\x00\xff")]


# ---------------------------------------------------------------- strict errors


@pytest.mark.parametrize(
    ("hex_data", "offset", "words"),
    [
        ("9F", 0, "tag runs past"),  # truncated tag
        ("9F02", 0, "no length"),  # tag without length
        ("9F0206000000", 2, "overruns"),  # value truncated
        ("5A08476173900100", 1, "overruns"),
        ("9F0281", 2, "length bytes truncated"),
        ("9F028301", 2, "length bytes truncated"),
        ("9F028000", 2, "bad length form"),  # indefinite length is not EMV
        ("9F02840000000100", 2, "bad length form"),  # more than 3 length bytes
        ("9F0001AA", 0, "bad tag byte 00"),  # b7-b1 of first subsequent byte all zero
        ("9F8001AA", 0, "bad tag byte 80"),
        ("DF8181810101", 0, "longer than 4 bytes"),
        ("700A9F02060000000010", 1, "overruns"),  # template longer than the data
        ("70059F020600000000001000", 4, "overruns"),  # child overruns its template
        ("9F3602000177029F02", 7, "no length"),  # error deep inside a later template
    ],
)
def test_strict_errors_name_the_offset(hex_data: str, offset: int, words: str) -> None:
    with pytest.raises(TlvError) as caught:
        decode(bytes.fromhex(hex_data))
    assert caught.value.offset == offset
    assert words in str(caught.value)
    assert isinstance(caught.value, EmvError)


def test_nesting_limit() -> None:
    data = b""
    for _ in range(20):
        data = tlv.encode([Tlv(0x70, data)]) if data else bytes.fromhex("7003800100")
    with pytest.raises(TlvError, match="nested"):
        decode(data)


# ---------------------------------------------------------------- lenient


@pytest.mark.parametrize(
    ("hex_data", "expected", "quirk_offset", "words"),
    [
        # trailing tag without a length
        ("9F360200019F", [Tlv(0x9F36, b"\x00\x01")], 5, "truncated tag"),
        ("9F36020001 9F02", [Tlv(0x9F36, b"\x00\x01")], 5, "without a length"),
        # length overrun at the very end: the value is cut to what arrived
        ("9F3604000102", [Tlv(0x9F36, b"\x00\x01\x02")], 2, "overruns by 1"),
        # a template whose value is not TLV is kept raw
        ("70049F028000", [Tlv(0x70, bytes.fromhex("9F028000"))], 2, "not TLV"),
        # long-form length cut off at the end
        ("9F360200019F3682", [Tlv(0x9F36, b"\x00\x01")], 7, "length bytes cut off"),
    ],
)
def test_lenient_tolerates_and_records(
    hex_data: str, expected: list[Tlv], quirk_offset: int, words: str
) -> None:
    data = bytes.fromhex(hex_data.replace(" ", ""))
    with pytest.raises(TlvError):
        decode(data)
    report = DecodeReport()
    assert decode(data, strict=False, report=report) == expected
    assert len(report.quirks) == 1
    offset, text = report.quirks[0]
    assert offset == quirk_offset
    assert words in text


def test_lenient_records_bad_tag_byte_but_decodes() -> None:
    report = DecodeReport()
    assert decode(bytes.fromhex("9F0001AA"), strict=False, report=report) == [Tlv(0x9F00, b"\xaa")]
    assert report.quirks and report.quirks[0][0] == 0


def test_lenient_still_refuses_garbage() -> None:
    with pytest.raises(TlvError):
        decode(bytes.fromhex("9F028000 9F360200"), strict=False)


def test_lenient_quirks_inside_templates_are_kept() -> None:
    report = DecodeReport()
    items = decode(bytes.fromhex("77059F36030001"), strict=False, report=report)
    assert items[0].children == (Tlv(0x9F36, b"\x00\x01"),)
    assert report.quirks == [(4, "tag 9F36: length 3 overruns by 1, cut")]


# ---------------------------------------------------------------- robustness


@settings(max_examples=10_000, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_tlv_error(data: bytes) -> None:
    """Strict and lenient, fast and careful path: TlvError or a result, nothing else;
    the fast path never disagrees with the careful parser."""
    try:
        careful: list[Tlv] | TlvError = tlv._strict(data, 0, len(data), 0)
    except TlvError as error:
        careful = error
    try:
        fast: list[Tlv] | TlvError = decode(data)
    except TlvError as error:
        fast = error
    if isinstance(careful, TlvError):
        assert isinstance(fast, TlvError) and fast.offset == careful.offset
        assert 0 <= fast.offset <= len(data)
    else:
        assert fast == careful
    try:
        decode(data, strict=False, report=DecodeReport())
    except TlvError as error:
        assert 0 <= error.offset <= len(data)
