"""Receipts carry what the schemes require and never a full PAN."""

from __future__ import annotations

import dataclasses

from terminal.receipts import (
    Copy,
    CvmOutcome,
    ReceiptData,
    format_amount,
    mask_pan,
    render_text,
)

BASE = ReceiptData(
    merchant_name="MAIN STORE",
    header_lines=("1 HIGH STREET",),
    tid="TERM0001",
    mid="MERCHANT0000001",
    transaction_type="SALE",
    amount_minor=123456,
    currency_code="0826",
    timestamp="2026-11-25 08:00:00",
    approved=True,
    masked_pan="476173******0010",
    entry_mode="CHIP",
    aid="A0000000031010",
    application_label="VISA CREDIT",
    tvr="0000008000",
    tsi="E800",
    cryptogram_type="TC",
    cryptogram="1122334455667788",
    cvm=CvmOutcome.PIN_VERIFIED,
    auth_code="A1B2C3",
    rrn="000000000123",
    stan="000042",
    batch="000001",
    response_code="00",
)


def test_amounts_follow_the_currency_exponent() -> None:
    assert format_amount(123456, "0826") == "GBP 1,234.56"
    assert format_amount(1234, "0392") == "JPY 1,234"
    assert format_amount(-5, "0978") == "EUR -0.05"


def test_chip_receipt_shows_every_required_item() -> None:
    text = render_text(BASE, Copy.CUSTOMER)
    for expected in (
        "476173******0010",
        "CHIP",
        "A0000000031010",
        "VISA CREDIT",
        "0000008000",
        "E800",
        "1122334455667788",
        "PIN VERIFIED",
        "A1B2C3",
        "000000000123",
        "000042",
        "000001",
        "GBP 1,234.56",
        "APPROVED",
        "CUSTOMER COPY",
    ):
        assert expected in text, expected
    assert "SIGNATURE" not in text


def test_signature_line_on_merchant_copy_only() -> None:
    signed = dataclasses.replace(BASE, cvm=CvmOutcome.SIGNATURE)
    assert "CARDHOLDER SIGNATURE" in render_text(signed, Copy.MERCHANT)
    assert "CARDHOLDER SIGNATURE" not in render_text(signed, Copy.CUSTOMER)


def test_declined_receipt_gives_the_reason() -> None:
    declined = dataclasses.replace(
        BASE, approved=False, decline_reason="INSUFFICIENT FUNDS", response_code="51"
    )
    text = render_text(declined, Copy.CUSTOMER)
    assert "DECLINED" in text
    assert "INSUFFICIENT FUNDS" in text
    assert "APPROVED" not in text
    assert "PIN VERIFIED" not in text


def test_a_full_pan_is_masked_even_if_handed_in() -> None:
    leaky = dataclasses.replace(
        BASE, masked_pan="4761739001010010", extra_lines=("4761739001010010",)
    )
    text = render_text(leaky, Copy.MERCHANT)
    assert "4761739001010010" not in text
    assert mask_pan("4761739001010010") == "476173******0010"
