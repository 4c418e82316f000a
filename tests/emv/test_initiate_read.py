"""Initiate application processing (Book 3, 10.1) and read application data (10.2)."""

from __future__ import annotations

import pytest

from emv.bits import AIP, TVR
from emv.callbacks import Candidate
from emv.initiate import RESELECT, initiate_processing, parse_gpo_response
from emv.outcome import TerminationReason
from emv.read_data import AflError, parse_afl, read_application_data
from tests.emv.scripted import (
    OK,
    PAN_BCD,
    VISA,
    RecordingCallbacks,
    ScriptedTransport,
    context,
    read_cmd,
    t,
)

GPO_HEADER = b"\x80\xa8\x00\x00"


def selected_context(pdol: bytes = b""):  # type: ignore[no-untyped-def]
    ctx = context()
    ctx.selected = Candidate(VISA)
    ctx.card = {0x84: VISA}
    if pdol:
        ctx.card[0x9F38] = pdol
    return ctx


def test_gpo_sends_pdol_data_and_reads_format_1() -> None:
    ctx = selected_context(bytes.fromhex("9F0206"))
    ctx.tvr |= TVR.NEW_CARD  # must be cleared at the start of initiate
    transport = ScriptedTransport(
        {GPO_HEADER: t(0x80, b"\x58\x00", bytes.fromhex("08010100")) + OK}
    )
    assert initiate_processing(ctx, transport, RecordingCallbacks()) is None
    assert transport.sent[0] == bytes.fromhex("80A8000008830600000000150000")
    assert (
        ctx.aip
        == AIP.SDA_SUPPORTED
        | AIP.CARDHOLDER_VERIFICATION_SUPPORTED
        | AIP.TERMINAL_RISK_MANAGEMENT_TO_BE_PERFORMED
    )
    assert ctx.afl == bytes.fromhex("08010100")
    assert ctx.tvr == 0


def test_gpo_without_pdol_sends_empty_83() -> None:
    ctx = selected_context()
    transport = ScriptedTransport(
        {GPO_HEADER: t(0x80, b"\x00\x00", bytes.fromhex("08010100")) + OK}
    )
    initiate_processing(ctx, transport, RecordingCallbacks())
    assert transport.sent[0] == bytes.fromhex("80A80000028300" + "00")


def test_gpo_format_2() -> None:
    ctx = selected_context()
    body = t(0x77, t(0x82, b"\x19\x80"), t(0x94, bytes.fromhex("10020301")), t(0x9F36, b"\x00\x07"))
    assert parse_gpo_response(ctx, body) is None
    assert ctx.afl == bytes.fromhex("10020301") and ctx.card[0x9F36] == b"\x00\x07"


@pytest.mark.parametrize(
    "body, reason",
    [
        (t(0x80, b"\x18"), TerminationReason.DATA_FORMAT_ERROR),
        (t(0x80, b"\x18\x00\x08\x01"), TerminationReason.DATA_FORMAT_ERROR),
        (t(0x77, t(0x82, b"\x18\x00")), TerminationReason.MISSING_MANDATORY_DATA),
        (
            t(
                0x77,
                t(0x82, b"\x18\x00"),
                t(0x94, b"\x08\x01\x01\x00"),
                t(0x94, b"\x08\x01\x01\x00"),
            ),
            TerminationReason.DATA_FORMAT_ERROR,
        ),
        (t(0x6F, b""), TerminationReason.DATA_FORMAT_ERROR),
        (b"\x80\x05\x00", TerminationReason.DATA_FORMAT_ERROR),
    ],
)
def test_gpo_bad_responses_terminate(body: bytes, reason: TerminationReason) -> None:
    outcome = parse_gpo_response(selected_context(), body)
    assert outcome is not None and outcome.reason is reason


def test_gpo_6985_asks_for_reselection() -> None:
    transport = ScriptedTransport({GPO_HEADER: b"\x69\x85"})
    assert initiate_processing(selected_context(), transport, RecordingCallbacks()) == RESELECT


def test_gpo_other_error_terminates() -> None:
    transport = ScriptedTransport({GPO_HEADER: b"\x6a\x80"})
    outcome = initiate_processing(selected_context(), transport, RecordingCallbacks())
    assert outcome is not None and not isinstance(outcome, str)
    assert outcome.reason is TerminationReason.CARD_ERROR


@pytest.mark.parametrize(
    "afl",
    ["0801", "00010100", "F8010100", "08000100", "08020100", "08010203"],
)
def test_invalid_afl_rejected(afl: str) -> None:
    with pytest.raises(AflError):
        parse_afl(bytes.fromhex(afl))


MANDATORY = (
    t(0x5A, PAN_BCD),
    t(0x5F24, b"\x30\x12\x31"),
    t(0x8C, b"\x9f\x02\x06"),
    t(0x8D, b"\x8a\x02"),
)


def test_records_read_and_oda_data_kept_per_sfi_rule() -> None:
    # Book 3, 10.3: SFI 1-10 sign the value of '70'; SFI 11-30 the whole record.
    ctx = selected_context()
    ctx.afl = bytes.fromhex("08010201") + bytes.fromhex("58010101")
    rec1 = t(0x70, MANDATORY[0], MANDATORY[1])
    rec2 = t(0x70, MANDATORY[2], MANDATORY[3])
    rec11 = t(0x70, t(0x9F4A, b"\x82"))
    table = {read_cmd(1, 1): rec1 + OK, read_cmd(1, 2): rec2 + OK, read_cmd(11, 1): rec11 + OK}
    assert read_application_data(ctx, ScriptedTransport(table), RecordingCallbacks()) is None
    assert bytes(ctx.oda_records) == rec1[2:] + rec11
    assert ctx.card[0x9F4A] == b"\x82"
    assert not ctx.oda_record_invalid


def test_sfi_11_non_template_record_for_oda_marks_oda_failed() -> None:
    ctx = selected_context()
    ctx.afl = bytes.fromhex("08010100") + bytes.fromhex("58010101")
    table = {read_cmd(1, 1): t(0x70, *MANDATORY) + OK, read_cmd(11, 1): t(0x71, b"\x00") + OK}
    assert read_application_data(ctx, ScriptedTransport(table), RecordingCallbacks()) is None
    assert ctx.oda_record_invalid


def test_sfi_1_10_record_not_template_terminates() -> None:
    ctx = selected_context()
    ctx.afl = bytes.fromhex("08010100")
    table = {read_cmd(1, 1): t(0x71, *MANDATORY) + OK}
    outcome = read_application_data(ctx, ScriptedTransport(table), RecordingCallbacks())
    assert outcome is not None and outcome.reason is TerminationReason.DATA_FORMAT_ERROR


@pytest.mark.parametrize("drop", range(4))
def test_missing_mandatory_data_terminates(drop: int) -> None:
    ctx = selected_context()
    ctx.afl = bytes.fromhex("08010100")
    objects = [obj for index, obj in enumerate(MANDATORY) if index != drop]
    table = {read_cmd(1, 1): t(0x70, *objects) + OK}
    outcome = read_application_data(ctx, ScriptedTransport(table), RecordingCallbacks())
    assert outcome is not None and outcome.reason is TerminationReason.MISSING_MANDATORY_DATA


def test_duplicate_tag_terminates() -> None:
    ctx = selected_context()
    ctx.afl = bytes.fromhex("08010200")
    table = {read_cmd(1, 1): t(0x70, *MANDATORY) + OK, read_cmd(1, 2): t(0x70, MANDATORY[0]) + OK}
    outcome = read_application_data(ctx, ScriptedTransport(table), RecordingCallbacks())
    assert outcome is not None and outcome.reason is TerminationReason.DATA_FORMAT_ERROR


def test_read_record_error_terminates() -> None:
    ctx = selected_context()
    ctx.afl = bytes.fromhex("08010100")
    outcome = read_application_data(
        ctx, ScriptedTransport({read_cmd(1, 1): b"\x6a\x83"}), RecordingCallbacks()
    )
    assert outcome is not None and outcome.reason is TerminationReason.CARD_ERROR
