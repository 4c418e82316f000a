"""Processing restrictions (Book 3, 10.4) and terminal risk management (10.6)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emv.bits import AIP, TSI, TVR
from emv.config import TerminalData
from emv.context import TransactionType
from emv.restrictions import check_dates, check_usage_control, parse_yymmdd, processing_restrictions
from emv.risk import selection_target_percent, terminal_risk_management
from tests.emv.scripted import (
    OK,
    PAN,
    PAN_BCD,
    RecordingCallbacks,
    ScriptedTransport,
    config,
    context,
    t,
)


def test_application_version_mismatch_sets_bit() -> None:
    ctx = context()
    ctx.terminal[0x9F09] = b"\x00\x8c"
    ctx.card[0x9F08] = b"\x00\x8d"
    processing_restrictions(ctx, ScriptedTransport({}), RecordingCallbacks())
    assert TVR.DIFFERENT_APPLICATION_VERSIONS in ctx.tvr


def test_application_version_absent_on_card_is_no_check() -> None:
    ctx = context()
    ctx.terminal[0x9F09] = b"\x00\x8c"
    processing_restrictions(ctx, ScriptedTransport({}), RecordingCallbacks())
    assert ctx.tvr == 0


@pytest.mark.parametrize(
    "auc, issuer_country, kwargs, allowed",
    [
        ("FF00", "0826", {}, True),
        ("3D00", "0826", {}, True),  # domestic goods + services only
        ("0900", "0826", {}, True),  # domestic services only: still a purchase
        ("0900", "0840", {}, False),  # international, no international goods/services
        ("AB00", "0826", {"transaction_type": TransactionType.CASH}, True),
        ("2B00", "0826", {"transaction_type": TransactionType.CASH}, False),
        (
            "FF00",
            "0826",
            {"amount_other": 500, "transaction_type": TransactionType.PURCHASE_WITH_CASHBACK},
            False,
        ),
        (
            "FF80",
            "0826",
            {"amount_other": 500, "transaction_type": TransactionType.PURCHASE_WITH_CASHBACK},
            True,
        ),
        (
            "FF80",
            "0840",
            {"amount_other": 500, "transaction_type": TransactionType.PURCHASE_WITH_CASHBACK},
            False,
        ),
        ("FE00", "0826", {}, False),  # not valid at non-ATM terminals
    ],
)
def test_application_usage_control(
    auc: str, issuer_country: str, kwargs: dict[str, object], allowed: bool
) -> None:
    ctx = context(**kwargs)
    ctx.card[0x9F07] = bytes.fromhex(auc)
    ctx.card[0x5F28] = bytes.fromhex(issuer_country)
    check_usage_control(ctx)
    assert (TVR.SERVICE_NOT_ALLOWED in ctx.tvr) is (not allowed)


def test_auc_at_atm_needs_atm_bit() -> None:
    atm = dataclasses.replace(
        config(),
        terminal=TerminalData(
            terminal_type=0x14, additional_capabilities=bytes.fromhex("8000000000")
        ),
    )
    ctx = context(atm, transaction_type=TransactionType.CASH)
    ctx.card[0x9F07] = bytes.fromhex("FD00")  # everything except "valid at ATMs"
    check_usage_control(ctx)
    assert TVR.SERVICE_NOT_ALLOWED in ctx.tvr


@pytest.mark.parametrize(
    "effective, expiry, bits",
    [
        ("251125", "261125", TVR(0)),  # both boundaries inclusive
        ("261126", "301231", TVR.APPLICATION_NOT_YET_EFFECTIVE),
        ("200101", "261124", TVR.EXPIRED_APPLICATION),
        ("200101", "491231", TVR(0)),  # 49 -> 2049
        ("200101", "991231", TVR.EXPIRED_APPLICATION),  # 99 -> 1999
        ("200101", "261399", TVR.EXPIRED_APPLICATION),  # not a date
    ],
)
def test_dates(effective: str, expiry: str, bits: TVR) -> None:
    ctx = context()
    ctx.card[0x5F25] = bytes.fromhex(effective)
    ctx.card[0x5F24] = bytes.fromhex(expiry)
    check_dates(ctx)
    assert ctx.tvr == bits


@given(st.dates(dt.date(1950, 1, 1), dt.date(2049, 12, 31)))
def test_yymmdd_round_trip(day: dt.date) -> None:
    raw = bytes.fromhex(day.strftime("%y%m%d"))
    assert parse_yymmdd(raw) == day


# --- terminal risk management ------------------------------------------------------


def risk_context(
    amount: int = 1500,
    lcol: int | None = 5,
    ucol: int | None = 10,
    always: bool = False,
    **kwargs: object,
):  # type: ignore[no-untyped-def]
    cfg = config(**kwargs) if kwargs else config()
    if always:
        cfg = dataclasses.replace(cfg, risk_management_regardless_of_aip=True)
    ctx = context(cfg, amount=amount)
    ctx.aid_entry = ctx.config.aids[0]
    ctx.aip = AIP.TERMINAL_RISK_MANAGEMENT_TO_BE_PERFORMED
    ctx.card[0x5A] = PAN_BCD
    if lcol is not None:
        ctx.card[0x9F14] = bytes((lcol,))
    if ucol is not None:
        ctx.card[0x9F23] = bytes((ucol,))
    return ctx


def counters(atc: int | None, last: int | None) -> ScriptedTransport:
    table = {}
    if atc is not None:
        table[bytes.fromhex("80CA9F3600")] = t(0x9F36, atc.to_bytes(2, "big")) + OK
    if last is not None:
        table[bytes.fromhex("80CA9F1300")] = t(0x9F13, last.to_bytes(2, "big")) + OK
    return ScriptedTransport(table)


class SplitSales(RecordingCallbacks):
    def split_sales_amount(self, pan_masked: str) -> int:
        assert "*" in pan_masked  # the kernel never hands out the full PAN
        return 9000


def test_floor_limit_equal_counts_as_exceeded_and_tsi_set() -> None:
    ctx = risk_context(amount=10000)
    terminal_risk_management(ctx, counters(5, 3), RecordingCallbacks())
    assert TVR.FLOOR_LIMIT_EXCEEDED in ctx.tvr
    assert TSI.TERMINAL_RISK_MANAGEMENT_PERFORMED in ctx.tsi


def test_split_sales_from_log_count_towards_floor_limit() -> None:
    ctx = risk_context(amount=1500)
    terminal_risk_management(ctx, counters(5, 3), SplitSales())
    assert TVR.FLOOR_LIMIT_EXCEEDED in ctx.tvr


def test_risk_skipped_when_aip_does_not_ask() -> None:
    ctx = risk_context(amount=100000)
    ctx.aip = AIP(0)
    terminal_risk_management(ctx, counters(5, 3), RecordingCallbacks())
    assert ctx.tvr == 0 and ctx.tsi == 0


@pytest.mark.parametrize(
    "amount, expected",
    [(500, 20), (1000, 20), (5500, 35), (9999, 49), (10000, None), (20000, None)],
)
def test_random_selection_target_interpolates(amount: int, expected: int | None) -> None:
    # Book 3, 10.6.2: threshold 1000, floor 10000, target 20 %, max 50 %.
    assert selection_target_percent(amount, 10000, 1000, 20, 50) == expected


@pytest.mark.parametrize("draw, selected", [(20, True), (21, False), (1, True), (99, False)])
def test_random_selection_uses_the_callers_draw(draw: int, selected: bool) -> None:
    ctx = context(amount=500, random_selection=draw)
    ctx.aid_entry = ctx.config.aids[0]
    ctx.aip = AIP.TERMINAL_RISK_MANAGEMENT_TO_BE_PERFORMED
    terminal_risk_management(ctx, counters(None, None), RecordingCallbacks())
    assert (TVR.SELECTED_RANDOMLY_FOR_ONLINE in ctx.tvr) is selected


@pytest.mark.parametrize(
    "atc, last, bits",
    [
        (5, 3, TVR(0)),
        (9, 3, TVR.LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED),
        (
            14,
            3,
            TVR.LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED
            | TVR.UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED,
        ),
        (3, 0, TVR.NEW_CARD),
        (
            3,
            3,
            TVR.LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED
            | TVR.UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED,
        ),
        (
            None,
            3,
            TVR.LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED
            | TVR.UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED,
        ),
        (
            5,
            None,
            TVR.LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED
            | TVR.UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED,
        ),
    ],
)
def test_velocity_checking(atc: int | None, last: int | None, bits: TVR) -> None:
    ctx = risk_context()
    terminal_risk_management(ctx, counters(atc, last), RecordingCallbacks())
    assert ctx.tvr == bits


def test_velocity_skipped_without_lcol_ucol() -> None:
    ctx = risk_context(lcol=None, ucol=None)
    transport = counters(5, 3)
    terminal_risk_management(ctx, transport, RecordingCallbacks())
    assert transport.sent == []


def test_exception_file_match() -> None:
    cfg = dataclasses.replace(config(), exception_file=frozenset({PAN}))
    ctx = context(cfg)
    ctx.card[0x5A] = PAN_BCD
    terminal_risk_management(ctx, counters(5, 3), RecordingCallbacks())
    assert TVR.CARD_ON_TERMINAL_EXCEPTION_FILE in ctx.tvr


def test_risk_regardless_of_aip_when_configured() -> None:
    ctx = risk_context(amount=100000, always=True)
    ctx.aip = AIP(0)
    terminal_risk_management(ctx, counters(5, 3), RecordingCallbacks())
    assert TVR.FLOOR_LIMIT_EXCEEDED in ctx.tvr


def test_binary_amounts_and_terminal_aid_for_dols() -> None:
    from emv.callbacks import Candidate
    from emv.selection import final_selection
    from tests.emv.scripted import VISA, fci, select_cmd

    ctx = context(amount=1500, amount_other=200)
    ctx.candidates = [Candidate(VISA)]
    final_selection(
        ctx, ScriptedTransport({select_cmd(VISA): fci(VISA) + OK}), RecordingCallbacks()
    )
    assert ctx.get(0x81) == (1500).to_bytes(4, "big") and ctx.get(0x9F04) == (200).to_bytes(
        4, "big"
    )
    assert ctx.get(0x9F06) == VISA and ctx.get(0x9F1B) == (10000).to_bytes(4, "big")
