"""Bit positions of EMV bit fields.

Positions checked against EMV 4.4 Book 3 Annex C1/C2/C5/C6, Book 4 Annex A2/A3/A4
and EMV Contactless Book A 5.7 / C-3 A.2, as also tabulated in openemv/emv-utils
src/emv_fields.h (e.g. TVR byte 3 b3 0x04 "Online CVM captured").
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emv.bits import (
    AIP,
    AUC,
    CTQ,
    TSI,
    TTQ,
    TVR,
    AdditionalTerminalCapabilities,
    ByteFlag,
    CvmCode,
    CvmCondition,
    CvmList,
    CvmOutcome,
    CvmResults,
    CvRule,
    FieldLengthError,
    TerminalCapabilities,
)
from emv.errors import EmvError

FLAG_CLASSES: list[type[ByteFlag]] = [
    AIP,
    AUC,
    TVR,
    TSI,
    TerminalCapabilities,
    AdditionalTerminalCapabilities,
    TTQ,
    CTQ,
]


@pytest.mark.parametrize(
    ("member", "hex_value"),
    [
        (TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED, "8000000000"),
        (TVR.CARD_ON_TERMINAL_EXCEPTION_FILE, "1000000000"),
        (TVR.CDA_FAILED, "0400000000"),
        (TVR.EXPIRED_APPLICATION, "0040000000"),
        (TVR.NEW_CARD, "0008000000"),
        (TVR.PIN_TRY_LIMIT_EXCEEDED, "0000200000"),
        (TVR.ONLINE_CVM_CAPTURED, "0000040000"),
        (TVR.FLOOR_LIMIT_EXCEEDED, "0000008000"),
        (TVR.SELECTED_RANDOMLY_FOR_ONLINE, "0000001000"),
        (TVR.MERCHANT_FORCED_ONLINE, "0000000800"),
        (TVR.DEFAULT_TDOL_USED, "0000000080"),
        (TVR.ISSUER_AUTHENTICATION_FAILED, "0000000040"),
        (TVR.SCRIPT_FAILED_AFTER_FINAL_GENERATE_AC, "0000000010"),
        (TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED, "8000"),
        (TSI.TERMINAL_RISK_MANAGEMENT_PERFORMED, "0800"),
        (TSI.SCRIPT_PROCESSING_PERFORMED, "0400"),
        (AIP.SDA_SUPPORTED, "4000"),
        (AIP.DDA_SUPPORTED, "2000"),
        (AIP.CARDHOLDER_VERIFICATION_SUPPORTED, "1000"),
        (AIP.TERMINAL_RISK_MANAGEMENT_TO_BE_PERFORMED, "0800"),
        (AIP.CDA_SUPPORTED, "0100"),
        (AIP.EMV_MODE_SUPPORTED, "0080"),
        (AUC.DOMESTIC_CASH, "8000"),
        (AUC.VALID_AT_NON_ATM_TERMINALS, "0100"),
        (AUC.INTERNATIONAL_CASHBACK, "0040"),
        (TerminalCapabilities.IC_WITH_CONTACTS, "200000"),
        (TerminalCapabilities.NO_CVM_REQUIRED, "000800"),
        (TerminalCapabilities.CDA, "000008"),
        (AdditionalTerminalCapabilities.GOODS, "4000000000"),
        (AdditionalTerminalCapabilities.CASH_DEPOSIT, "0080000000"),
        (AdditionalTerminalCapabilities.PRINT_ATTENDANT, "0000008000"),
        (AdditionalTerminalCapabilities.CODE_TABLE_1, "0000000001"),
        (TTQ.EMV_MODE_SUPPORTED, "20000000"),
        (TTQ.CVM_REQUIRED, "00400000"),
        (CTQ.ONLINE_PIN_REQUIRED, "8000"),
        (CTQ.CONSUMER_DEVICE_CVM_PERFORMED, "0080"),
    ],
)
def test_bit_positions(member: ByteFlag, hex_value: str) -> None:
    assert member.to_bytes().hex().upper() == hex_value.upper()
    assert type(member).from_bytes(bytes.fromhex(hex_value)) == member


def test_common_terminal_capabilities_value() -> None:
    """'E0F8C8': manual, mag, IC; plaintext/enciphered PIN, signature, enc. PIN, no CVM;
    SDA, DDA, card capture, CDA (a common 9F33 in public traces)."""
    caps = TerminalCapabilities.from_bytes(bytes.fromhex("E0F8C8"))
    assert caps == (
        TerminalCapabilities.MANUAL_KEY_ENTRY
        | TerminalCapabilities.MAGNETIC_STRIPE
        | TerminalCapabilities.IC_WITH_CONTACTS
        | TerminalCapabilities.PLAINTEXT_PIN_FOR_ICC_VERIFICATION
        | TerminalCapabilities.ENCIPHERED_PIN_FOR_ONLINE_VERIFICATION
        | TerminalCapabilities.SIGNATURE
        | TerminalCapabilities.ENCIPHERED_PIN_FOR_OFFLINE_VERIFICATION_RSA
        | TerminalCapabilities.NO_CVM_REQUIRED
        | TerminalCapabilities.SDA
        | TerminalCapabilities.DDA
        | TerminalCapabilities.CDA
    )


def test_log_form_and_rfu_bits() -> None:
    tvr = TVR.from_bytes(bytes.fromhex("8000000001"))
    assert str(tvr) == "TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED|RFU byte 5 b1"
    assert f"{tvr}" == str(tvr)
    assert tvr.to_bytes() == bytes.fromhex("8000000001")
    assert str(TSI(0)) == "TSI.NONE"


@pytest.mark.parametrize("cls", FLAG_CLASSES)
def test_wrong_length_raises(cls: type[ByteFlag]) -> None:
    with pytest.raises(FieldLengthError) as caught:
        cls.from_bytes(bytes(cls.size() + 1))
    assert isinstance(caught.value, EmvError)


@given(st.sampled_from(FLAG_CLASSES), st.data())
def test_round_trip(cls: type[ByteFlag], data: st.DataObject) -> None:
    raw = data.draw(st.binary(min_size=cls.size(), max_size=cls.size()))
    assert cls.from_bytes(raw).to_bytes() == raw


def test_cvm_results() -> None:
    results = CvmResults.from_bytes(bytes.fromhex("420302"))
    assert results.code == CvmCode.ENCIPHERED_PIN_ONLINE
    assert results.apply_succeeding_if_unsuccessful
    assert results.condition == CvmCondition.TERMINAL_SUPPORTS_CVM
    assert results.result == CvmOutcome.SUCCESSFUL
    assert results.to_bytes() == bytes.fromhex("420302")
    assert results.describe() == "ENCIPHERED_PIN_ONLINE, TERMINAL_SUPPORTS_CVM, SUCCESSFUL"
    assert CvmResults.from_bytes(bytes.fromhex("3F0000")).describe().startswith("NO_CVM_PERFORMED")


def test_cvm_list() -> None:
    cvm = CvmList.from_bytes(bytes.fromhex("000000000000000042015E031F03"))
    assert cvm.amount_x == 0 and cvm.amount_y == 0
    assert cvm.rules == (
        CvRule(CvmCode.ENCIPHERED_PIN_ONLINE, CvmCondition.UNATTENDED_CASH, True),
        CvRule(CvmCode.SIGNATURE, CvmCondition.TERMINAL_SUPPORTS_CVM, True),
        CvRule(CvmCode.NO_CVM_REQUIRED, CvmCondition.TERMINAL_SUPPORTS_CVM, False),
    )
    assert cvm.to_bytes().hex().upper() == "000000000000000042015E031F03"
    assert cvm.rules[2].describe() == "NO_CVM_REQUIRED if TERMINAL_SUPPORTS_CVM"
    with pytest.raises(FieldLengthError):
        CvmList.from_bytes(bytes(9))
