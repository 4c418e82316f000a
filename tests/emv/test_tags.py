"""The EMV data dictionary (EMV 4.4 Book 3 Annex A, Table 33) and value display."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emv import tags
from emv.tags import TAGS, Format, Source

# A sample of Annex A rows checked by hand against the book: tag, format, min, max.
ANNEX_A_SAMPLE = [
    (0x9F02, Format.N, 6, 6),
    (0x9F03, Format.N, 6, 6),
    (0x5A, Format.CN, 1, 10),
    (0x57, Format.B, 0, 19),
    (0x5F24, Format.N, 3, 3),
    (0x5F2A, Format.N, 2, 2),
    (0x9A, Format.N, 3, 3),
    (0x9C, Format.N, 1, 1),
    (0x95, Format.B, 5, 5),
    (0x9B, Format.B, 2, 2),
    (0x82, Format.B, 2, 2),
    (0x9F33, Format.B, 3, 3),
    (0x9F40, Format.B, 5, 5),
    (0x9F34, Format.B, 3, 3),
    (0x50, Format.ANS, 1, 16),
    (0x5F20, Format.ANS, 2, 26),
    (0x9F1C, Format.AN, 8, 8),
    (0x9F16, Format.ANS, 15, 15),
    (0x5F55, Format.A, 2, 2),
    (0x8A, Format.AN, 2, 2),
    (0x9F37, Format.B, 4, 4),
    (0x4F, Format.B, 5, 16),
    (0x70, Format.VAR, 0, 252),
    (0x9F41, Format.N, 2, 4),
]

# Every tag EMV 4.4 Book 3 Annex A lists (Table 33), so none can go missing.
ANNEX_A_TAGS = {
    0x42, 0x4F, 0x50, 0x57, 0x5A, 0x5F20, 0x5F24, 0x5F25, 0x5F28, 0x5F2A, 0x5F2D,
    0x5F30, 0x5F34, 0x5F36, 0x5F50, 0x5F53, 0x5F54, 0x5F55, 0x5F56, 0x61, 0x6F,
    0x70, 0x71, 0x72, 0x73, 0x77, 0x80, 0x81, 0x82, 0x83, 0x84, 0x86, 0x87, 0x88,
    0x89, 0x8A, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x97,
    0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F01, 0x9F02, 0x9F03, 0x9F04, 0x9F05,
    0x9F06, 0x9F07, 0x9F08, 0x9F09, 0x9F0B, 0x9F0D, 0x9F0E, 0x9F0F, 0x9F10, 0x9F11,
    0x9F12, 0x9F13, 0x9F14, 0x9F15, 0x9F16, 0x9F17, 0x9F18, 0x9F1A, 0x9F1B, 0x9F1C,
    0x9F1D, 0x9F1E, 0x9F1F, 0x9F20, 0x9F21, 0x9F22, 0x9F23, 0x9F26, 0x9F27, 0x9F2D,
    0x9F2E, 0x9F2F, 0x9F32, 0x9F33, 0x9F34, 0x9F35, 0x9F36, 0x9F37, 0x9F38, 0x9F39,
    0x9F3A, 0x9F3B, 0x9F3C, 0x9F3D, 0x9F40, 0x9F41, 0x9F42, 0x9F43, 0x9F44, 0x9F45,
    0x9F46, 0x9F47, 0x9F48, 0x9F49, 0x9F4A, 0x9F4B, 0x9F4C, 0x9F4D, 0x9F4E, 0x9F4F,
    0xA5, 0xBF0C,
}  # fmt: skip

CONTACTLESS_TAGS = {0x9F66, 0x9F6C, 0x9F69, 0x9F6E, 0x9F7C, 0x9F5D, 0x9F6B, 0x56, 0xDF8129}


def test_every_annex_a_and_contactless_tag_present() -> None:
    assert ANNEX_A_TAGS - TAGS.keys() == set()
    assert CONTACTLESS_TAGS - TAGS.keys() == set()


@pytest.mark.parametrize(("tag", "fmt", "low", "high"), ANNEX_A_SAMPLE)
def test_annex_a_rows(tag: int, fmt: Format, low: int, high: int) -> None:
    info = tags.lookup(tag)
    assert info is not None
    assert (info.format, info.min_length, info.max_length) == (fmt, low, high)


def test_rows_are_consistent() -> None:
    for tag, info in TAGS.items():
        assert info.tag == tag
        assert info.min_length <= info.max_length, info.name
        if info.constructed:  # every template is "var"; some primitives are too (80, 94)
            assert info.format is Format.VAR, info.name


def test_describe() -> None:
    assert tags.describe(0x9F02) == "9F02 Amount, Authorised (Numeric) n 12, 6 bytes, terminal"
    assert tags.describe(0x8A) == "8A Authorisation Response Code an 2, 2 bytes, terminal/issuer"
    assert tags.describe(0x9F44) == "9F44 Application Currency Exponent n 1, 1 byte, ICC"
    assert "not in the EMV data dictionary" in tags.describe(0xDF7F)
    assert tags.lookup(0xDF7F) is None
    assert tags.lookup(0x9F02) is not None
    assert tags.lookup(0x9F02).source is Source.TERMINAL  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("tag", "hex_value", "shown"),
    [
        (0x9F02, "000000001234", "1234"),
        (0x5F24, "291231", "2029-12-31"),
        (0x9A, "261125", "2026-11-25"),
        (0x9F21, "101530", "10:15:30"),
        (0x50, b"VISA CREDIT".hex(), "VISA CREDIT"),
        (0x5F2D, b"enfr".hex(), "enfr"),
        (0x5F2A, "0978", "0978"),
        (0x9F36, "0012", "18"),
        (0x5A, "4761739001010010", "476173******0010"),
        (0x5A, "541333004000000F", "541333*****0000"),
        (0x57, "4761739001010010D22122011143804400000F", "476173******0010D" + "*" * 20),
        (0x9F6B, "5413330089600010D2512201", "541333******0010D" + "*" * 7),
        (0x99, "0102030405060708", "<8 bytes hidden>"),
        (0x9F1F, b"1234567".hex(), "<7 bytes hidden>"),
        (0x9B, "E800", "E800: OFFLINE_DATA_AUTHENTICATION_PERFORMED, "
         "CARDHOLDER_VERIFICATION_PERFORMED, CARD_RISK_MANAGEMENT_PERFORMED, "
         "TERMINAL_RISK_MANAGEMENT_PERFORMED"),
        (0x82, "1980", "1980: CARDHOLDER_VERIFICATION_SUPPORTED, "
         "TERMINAL_RISK_MANAGEMENT_TO_BE_PERFORMED, CDA_SUPPORTED, EMV_MODE_SUPPORTED"),
        (0x9F34, "1F0302", "1F0302: NO_CVM_REQUIRED, TERMINAL_SUPPORTS_CVM, SUCCESSFUL"),
        (0x9F0D, "0000000000", "0000000000: none set"),
        (0x8C, "9F02069F0306", "9F02(6) 9F03(6)"),
        (0x94, "08010100", "SFI 1 records 1-1 (0 for ODA)"),
        (0xDF7F, "0102", "0102"),
        (0x95, "8000", "8000"),  # wrong length: raw hex, never an exception
    ],
)  # fmt: skip
def test_format_value(tag: int, hex_value: str, shown: str) -> None:
    assert tags.format_value(tag, bytes.fromhex(hex_value)) == shown


def test_unmasked_on_request() -> None:
    pan = bytes.fromhex("4761739001010010")
    assert tags.format_value(0x5A, pan, mask=False) == "4761739001010010"


@given(st.sampled_from(sorted(TAGS)), st.binary(max_size=40))
def test_format_value_never_raises(tag: int, value: bytes) -> None:
    assert isinstance(tags.format_value(tag, value), str)


@given(st.sampled_from([0x5A, 0x57, 0x9F6B]), st.binary(min_size=8, max_size=19))
def test_masking_never_shows_middle_digits(tag: int, value: bytes) -> None:
    shown = tags.format_value(tag, value)
    digits = value.hex().upper().rstrip("F").partition("D")[0]
    if len(digits) > 10:
        assert digits[6:-4] not in shown.replace("*", "") or set(digits[6:-4]) <= set(
            shown.replace("*", "")
        )
        assert "*" in shown
