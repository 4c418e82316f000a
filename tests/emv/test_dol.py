"""DOL parsing and the EMV 4.4 Book 3, 5.4 rules for the DOL-related data field.

Book 3 5.4 states the rules as items a-e (unknown/constructed tag -> zeros; absent
data -> zeros; longer than listed -> n loses leftmost bytes, others rightmost;
shorter -> n leading 00, cn trailing FF, others trailing 00; not applicable ->
zeros). Each case below reproduces one item with a concrete element of that format.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emv import dol
from emv.dol import DolEntry, DolError
from emv.tags import Format
from emv.tlv import tag_bytes

# A Visa-style PDOL from public card traces (TTQ, amounts, country, TVR, currency,
# date, type, UN), as in the qVSDC examples of EMV Contactless Book C-3.
VISA_PDOL = bytes.fromhex("9F66049F02069F03069F1A0295055F2A029A039C019F3704")


def test_parse_visa_pdol() -> None:
    assert dol.parse(VISA_PDOL) == [
        DolEntry(0x9F66, 4),
        DolEntry(0x9F02, 6),
        DolEntry(0x9F03, 6),
        DolEntry(0x9F1A, 2),
        DolEntry(0x95, 5),
        DolEntry(0x5F2A, 2),
        DolEntry(0x9A, 3),
        DolEntry(0x9C, 1),
        DolEntry(0x9F37, 4),
    ]
    assert dol.total_length(VISA_PDOL) == 33


def test_build_visa_pdol_exact_lengths() -> None:
    data = {
        0x9F66: bytes.fromhex("36000000"),
        0x9F02: bytes.fromhex("000000001000"),
        0x9F03: bytes.fromhex("000000000000"),
        0x9F1A: bytes.fromhex("0826"),
        0x95: bytes.fromhex("0000000000"),
        0x5F2A: bytes.fromhex("0826"),
        0x9A: bytes.fromhex("261125"),
        0x9C: bytes.fromhex("00"),
        0x9F37: bytes.fromhex("A1B2C3D4"),
    }
    assert dol.build(VISA_PDOL, data) == b"".join(data.values())


@pytest.mark.parametrize(
    ("dol_hex", "data", "expected_hex", "rule"),
    [
        # a: unknown tag -> zeros of the listed length
        ("DF7F03", {0xDF7F: b"\x01\x02\x03"}, "000000", "a unknown"),
        # a: constructed tag -> zeros even if the terminal holds a value
        ("7002", {0x70: b"\x01\x02"}, "0000", "a constructed"),
        # b: known but absent -> zeros
        ("9F3704", {}, "00000000", "b absent"),
        # c: n longer than listed -> leftmost bytes go (amount keeps its low digits)
        ("9F0204", {0x9F02: bytes.fromhex("000000123456")}, "00123456", "c n"),
        # c: b longer than listed -> rightmost bytes go (9F33 A0A0C0 in PDOL 9F33 02
        # gives A0A0, the case of a public Q&A on this very rule)
        ("9F3302", {0x9F33: bytes.fromhex("A0A0C0")}, "A0A0", "c b"),
        # c: an longer than listed -> rightmost bytes go
        ("9F1C04", {0x9F1C: b"TERM0001"}, b"TERM".hex(), "c an"),
        # c: cn longer than listed -> rightmost bytes go
        ("5A04", {0x5A: bytes.fromhex("4761739001010010")}, "47617390", "c cn"),
        # d: n shorter -> leading zeros
        ("9F0208", {0x9F02: bytes.fromhex("000000001000")}, "0000000000001000", "d n"),
        # d: cn shorter -> trailing FF
        ("5A0A", {0x5A: bytes.fromhex("4761739001010010")}, "4761739001010010FFFF", "d cn"),
        # d: an / ans / b shorter -> trailing zeros
        ("9F1C0A", {0x9F1C: b"TERM0001"}, b"TERM0001".hex() + "0000", "d an"),
        ("9F4E04", {0x9F4E: b"AB"}, "41420000", "d ans"),
        ("9F3706", {0x9F37: bytes.fromhex("A1B2C3D4")}, "A1B2C3D40000", "d b"),
        # zero-length entry contributes nothing
        ("9F3700", {0x9F37: bytes.fromhex("A1B2C3D4")}, "", "zero length"),
    ],
)
def test_book3_5_4_rules(
    dol_hex: str, data: dict[int, bytes], expected_hex: str, rule: str
) -> None:
    assert dol.build(bytes.fromhex(dol_hex), data).hex().upper() == expected_hex.upper(), rule


@pytest.mark.parametrize(
    ("value", "length", "fmt", "expected"),
    [
        (b"\x12\x34", 1, Format.N, b"\x34"),
        (b"\x12\x34", 1, Format.CN, b"\x12"),
        (b"\x12\x34", 1, Format.B, b"\x12"),
        (b"\x12", 3, Format.N, b"\x00\x00\x12"),
        (b"\x12", 3, Format.CN, b"\x12\xff\xff"),
        (b"A", 2, Format.A, b"A\x00"),
    ],
)
def test_fit(value: bytes, length: int, fmt: Format, expected: bytes) -> None:
    assert dol.fit(value, length, fmt) == expected


@pytest.mark.parametrize(
    ("dol_hex", "offset"),
    [
        ("9F", 0),  # tag runs past the end
        ("9F02", 0),  # no length
        ("9F0206 9F", 3),
        ("DFFFFFFF0101", 0),  # tag longer than 4 bytes
        ("9F0283", 0),  # bad long length form
    ],
)
def test_malformed_dol(dol_hex: str, offset: int) -> None:
    with pytest.raises(DolError) as caught:
        dol.parse(bytes.fromhex(dol_hex.replace(" ", "")))
    assert caught.value.offset == offset


tags_strategy = st.sampled_from([0x9F02, 0x9F37, 0x5A, 0x95, 0x9F1C, 0xDF8123, 0xDF7F, 0x70])


@given(st.lists(st.tuples(tags_strategy, st.integers(0, 0x7F)), max_size=12))
def test_parse_inverts_encoding(entries: list[tuple[int, int]]) -> None:
    raw = b"".join(tag_bytes(tag) + bytes((length,)) for tag, length in entries)
    assert dol.parse(raw) == [DolEntry(tag, length) for tag, length in entries]


@given(
    st.lists(st.tuples(tags_strategy, st.integers(0, 40)), max_size=8),
    st.dictionaries(tags_strategy, st.binary(max_size=40)),
)
def test_build_length_is_sum_of_entries(
    entries: list[tuple[int, int]], data: dict[int, bytes]
) -> None:
    raw = b"".join(tag_bytes(tag) + bytes((length,)) for tag, length in entries)
    assert len(dol.build(raw, data)) == sum(length for _, length in entries)


@given(st.binary(max_size=40))
def test_random_bytes_raise_only_dol_error(raw: bytes) -> None:
    try:
        entries = dol.parse(raw)
    except DolError as error:
        assert 0 <= error.offset < len(raw)
    else:
        assert all(entry.length >= 0 for entry in entries)
