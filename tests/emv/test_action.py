"""Terminal/card action analysis, online processing, scripts, completion (Book 3, 10.7-10.11)."""

from __future__ import annotations

import dataclasses

import pytest

from emv.action import (
    CardResponseInvalid,
    CryptogramType,
    default_action_analysis,
    parse_generate_ac,
    process_scripts,
    terminal_action_analysis,
)
from emv.bits import AIP, TSI, TVR
from emv.callbacks import OnlineResponse
from emv.config import TerminalData
from emv.kernel import run_transaction
from emv.outcome import Decision, TerminationReason
from tests.emv.scripted import (
    FakeCard,
    RecordingCallbacks,
    ScriptedTransport,
    config,
    context,
    t,
    txn,
)


def taa_context(tvr: TVR, terminal_type: int = 0x22, iacs: dict[int, bytes] | None = None):  # type: ignore[no-untyped-def]
    cfg = dataclasses.replace(config(), terminal=TerminalData(terminal_type=terminal_type))
    ctx = context(cfg)
    ctx.aid_entry = cfg.aids[0]
    ctx.card.update(iacs or {})
    ctx.tvr = tvr
    return ctx


@pytest.mark.parametrize(
    "tvr, terminal_type, iacs, expected",
    [
        (TVR(0), 0x22, {}, CryptogramType.TC),
        # TAC denial 0010000000 (byte 2 b5 service not allowed) -> AAC
        (TVR.SERVICE_NOT_ALLOWED, 0x22, {}, CryptogramType.AAC),
        # IAC denial hit
        (TVR.EXPIRED_APPLICATION, 0x22, {0x9F0E: bytes.fromhex("0040000000")}, CryptogramType.AAC),
        # absent IAC online counts as all ones -> any bit goes online
        (TVR.NEW_CARD, 0x22, {}, CryptogramType.ARQC),
        # IAC online present and not matching, TAC online not matching -> TC
        (TVR.NEW_CARD, 0x22, {0x9F0F: bytes(5)}, CryptogramType.TC),
        # online-only terminal always asks for ARQC unless denied
        (TVR(0), 0x21, {}, CryptogramType.ARQC),
        # offline-only terminal: default codes decide (IAC default absent -> all ones)
        (TVR.NEW_CARD, 0x23, {}, CryptogramType.AAC),
        (TVR.NEW_CARD, 0x23, {0x9F0D: bytes(5)}, CryptogramType.TC),
    ],
)
def test_terminal_action_analysis(
    tvr: TVR, terminal_type: int, iacs: dict[int, bytes], expected: CryptogramType
) -> None:
    assert terminal_action_analysis(taa_context(tvr, terminal_type, iacs)) is expected


@pytest.mark.parametrize(
    "tvr, terminal_type",
    [(TVR(0), 0x22), (TVR.NEW_CARD, 0x22), (TVR(0), 0x21), (TVR(0), 0x23)],
)
def test_request_aac_asks_aac_whatever_the_tvr(tvr: TVR, terminal_type: int) -> None:
    """TransactionInput.request_aac (refund): AAC even where the TVR and action codes
    would give TC (offline) or ARQC (online-only terminal, TAC-Online hit)."""
    ctx = taa_context(tvr, terminal_type)
    ctx.txn = dataclasses.replace(ctx.txn, request_aac=True)
    assert terminal_action_analysis(ctx) is CryptogramType.AAC
    ctx.txn = dataclasses.replace(ctx.txn, request_aac=False)
    assert terminal_action_analysis(ctx) is not CryptogramType.AAC


def test_default_action_analysis_when_unable_to_go_online() -> None:
    ctx = taa_context(TVR.FLOOR_LIMIT_EXCEEDED, iacs={0x9F0D: bytes(5)})
    assert (
        default_action_analysis(ctx) is CryptogramType.AAC
    )  # TAC default DC4000A800 has byte 4 b8
    ctx = taa_context(TVR.NEW_CARD, iacs={0x9F0D: bytes(5)})
    assert default_action_analysis(ctx) is CryptogramType.TC


def test_parse_generate_ac_format_1() -> None:
    body = t(0x80, b"\x80\x00\x05" + bytes(range(8)) + b"\x06\x01")
    answer = parse_generate_ac(body)
    assert answer.kind == CryptogramType.ARQC and answer.atc == b"\x00\x05"
    assert answer.cryptogram == bytes(range(8)) and answer.iad == b"\x06\x01"


@pytest.mark.parametrize(
    "body",
    [
        t(0x80, b"\x80\x00"),
        t(0x77, t(0x9F27, b"\x80")),
        t(0x77, t(0x9F27, b"\x80"), t(0x9F36, b"\x00\x01")),
        t(0x77, t(0x9F27, b"\x80\x00"), t(0x9F36, b"\x00\x01"), t(0x9F26, bytes(8))),
        t(0x70, b""),
        b"\x77\x05\x9f",
    ],
)
def test_parse_generate_ac_rejects(body: bytes) -> None:
    with pytest.raises(CardResponseInvalid):
        parse_generate_ac(body)


def run(card: FakeCard, callbacks: RecordingCallbacks | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    callbacks = callbacks or RecordingCallbacks()
    return run_transaction(card, config(), callbacks, txn(**kwargs)), callbacks


def test_card_declines_offline_with_aac() -> None:
    result, callbacks = run(FakeCard(first_cid=0x00))
    assert result.decision is Decision.DECLINED_OFFLINE and not callbacks.requests
    assert TSI.CARD_RISK_MANAGEMENT_PERFORMED in TSI.from_bytes(result.tsi)


def test_card_service_not_allowed_terminates() -> None:
    result, _ = run(FakeCard(first_cid=0x01))
    assert (
        result.decision is Decision.TERMINATED
        and result.reason is TerminationReason.SERVICE_NOT_ALLOWED
    )


def test_card_answering_higher_than_requested_is_not_accepted() -> None:
    card = FakeCard(first_cid=0x40)
    card.genac_response = lambda apdu: (
        t(0x77, t(0x9F27, b"\x40"), t(0x9F36, b"\x00\x01"), t(0x9F26, bytes(8))) + b"\x90\x00"
    )  # type: ignore[method-assign]
    result, _ = run(card)  # terminal asks ARQC (ODA not performed hits TAC online)
    assert result.reason is TerminationReason.NOT_ACCEPTED


def test_refund_request_aac_card_declines_offline_without_going_online() -> None:
    """request_aac: first GENERATE AC P1 asks AAC (no CDA), the card returns AAC, the
    kernel ends DECLINED_OFFLINE with that AAC's data as DE 55 and never calls go_online."""
    card = FakeCard()  # would answer ARQC to an ARQC request
    result, callbacks = run(card, transaction_type=0x20, request_aac=True)
    assert result.decision is Decision.DECLINED_OFFLINE and not callbacks.requests
    genacs = [apdu for apdu in card.sent if apdu[1] == 0xAE]
    assert len(genacs) == 1 and genacs[0][2] == 0x00  # AAC, no CDA bit
    assert result.cryptogram_type == "AAC"
    assert result.de55_tags[0x9F27] == b"\x00" and result.de55_tags[0x9C] == b"\x20"
    assert result.de55_tags[0x9F26] == bytes.fromhex("1122334455667788")


@pytest.mark.parametrize("cid", [0x40, 0x80])
def test_card_answering_tc_or_arqc_to_an_aac_request_is_not_accepted(cid: int) -> None:
    """Book 3, 9.3 (Table 14): a card may not answer above the cryptogram asked for."""
    card = FakeCard()
    card.genac_response = lambda apdu: (
        t(0x77, t(0x9F27, bytes((cid,))), t(0x9F36, b"\x00\x01"), t(0x9F26, bytes(8))) + b"\x90\x00"
    )  # type: ignore[method-assign]
    result, callbacks = run(card, request_aac=True)
    assert result.decision is Decision.TERMINATED and not callbacks.requests
    assert result.reason is TerminationReason.NOT_ACCEPTED


def test_cdol_asking_more_than_a_short_apdu_carries_terminates() -> None:
    """A CDOL1 whose data exceeds a short APDU's 255 bytes (ISO/IEC 7816-4 Lc) ends
    the transaction as a card error, not an exception (found by the kernel fuzz)."""
    card = FakeCard()
    card.cdol1 = lambda: bytes.fromhex("9F0281FF9F0306")  # type: ignore[method-assign]
    result, callbacks = run(card)
    assert result.decision is Decision.TERMINATED and not callbacks.requests
    assert result.reason is TerminationReason.CARD_ERROR
    assert not [apdu for apdu in card.sent if apdu[1] == 0xAE]


def test_online_approved_then_card_tc() -> None:
    result, callbacks = run(FakeCard())
    assert result.decision is Decision.APPROVED_ONLINE
    request = callbacks.requests[0]
    assert request.de55[0x9F27] == b"\x80" and request.pan_masked == "476173******0119"
    assert result.de55_tags[0x9F27] == b"\x40"  # final DE 55 from the second GENERATE AC


def test_host_decline_asks_card_for_aac() -> None:
    card = FakeCard()
    result, _ = run(card, RecordingCallbacks(OnlineResponse(False, b"05")))
    assert result.decision is Decision.DECLINED_ONLINE
    second = [apdu for apdu in card.sent if apdu[1] == 0xAE][1]
    assert second[2] & 0xC0 == 0x00
    assert b"05" in second  # 8A in CDOL2 data


def test_card_aac_after_host_approval_is_declined() -> None:
    result, _ = run(FakeCard(second_cid=0x00))
    assert result.decision is Decision.DECLINED_ONLINE


@pytest.mark.parametrize(
    "iac_default, decision, code",
    [(bytes(5), Decision.APPROVED_OFFLINE, b"Y3"), (b"\xff" * 5, Decision.DECLINED_OFFLINE, b"Z3")],
)
def test_unable_to_go_online(iac_default: bytes, decision: Decision, code: bytes) -> None:
    cfg_card = FakeCard(iac_default=iac_default)
    # TAC default with ODA-not-performed bit would force AAC: clear it for this case.
    callbacks = RecordingCallbacks(online=None)
    result = run_transaction(cfg_card, config(tac_default=bytes(5)), callbacks, txn())
    assert result.decision is decision
    second = [apdu for apdu in cfg_card.sent if apdu[1] == 0xAE][1]
    assert code in second
    assert result.receipt["response_code"] == code.decode()


def test_issuer_authentication_external_authenticate() -> None:
    card = FakeCard(aip=b"\x1c\x00")  # + issuer authentication supported
    response = OnlineResponse(True, b"00", issuer_authentication_data=bytes(range(10)))
    result, _ = run(card, RecordingCallbacks(response))
    assert any(apdu[:2] == b"\x00\x82" for apdu in card.sent)
    tsi = TSI.from_bytes(result.tsi)
    assert TSI.ISSUER_AUTHENTICATION_PERFORMED in tsi
    assert TVR.ISSUER_AUTHENTICATION_FAILED not in TVR.from_bytes(result.tvr)


def test_issuer_authentication_failure_sets_tvr() -> None:
    card = FakeCard(aip=b"\x1c\x00", external_auth_sw=b"\x63\x00")
    response = OnlineResponse(True, b"00", issuer_authentication_data=bytes(range(10)))
    result, _ = run(card, RecordingCallbacks(response))
    assert TVR.ISSUER_AUTHENTICATION_FAILED in TVR.from_bytes(result.tvr)


def test_issuer_auth_data_goes_in_cdol2_when_not_supported_separately() -> None:
    card = FakeCard(aip=b"\x18\x00")
    card.cdol2 = lambda: bytes.fromhex("8A02910A")  # type: ignore[method-assign]
    response = OnlineResponse(True, b"00", issuer_authentication_data=bytes(range(10)))
    run(card, RecordingCallbacks(response))
    assert not any(apdu[:2] == b"\x00\x82" for apdu in card.sent)
    second = [apdu for apdu in card.sent if apdu[1] == 0xAE][1]
    assert bytes(range(10)) in second


def script(tag: int, script_id: bytes, *commands: bytes) -> bytes:
    return t(tag, t(0x9F18, script_id), *(t(0x86, command) for command in commands))


def test_scripts_before_and_after_second_generate_ac() -> None:
    card = FakeCard()
    before = script(0x71, b"\x00\x00\x00\x01", bytes.fromhex("841E000008") + bytes(8))
    after = script(0x72, b"\x00\x00\x00\x02", bytes.fromhex("8424000008") + bytes(8))
    result, _ = run(card, RecordingCallbacks(OnlineResponse(True, b"00", scripts=(before, after))))
    order = [apdu[1] for apdu in card.sent if apdu[1] in (0xAE, 0x1E, 0x24)]
    assert order == [0xAE, 0x1E, 0xAE, 0x24]
    assert TSI.SCRIPT_PROCESSING_PERFORMED in TSI.from_bytes(result.tsi)
    assert result.de55_tags[0x9F5B] == b"\x20\x00\x00\x00\x01\x20\x00\x00\x00\x02"


def test_failed_script_command_sets_results_and_tvr() -> None:
    ctx = context()
    transport = ScriptedTransport(
        {b"\x84\x1e\x00\x00": b"\x90\x00", b"\x84\x24\x00\x00": b"\x6a\x81"}
    )
    body = script(
        0x72,
        b"\xaa\xbb\xcc\xdd",
        bytes.fromhex("841E0000"),
        bytes.fromhex("84240000"),
        bytes.fromhex("841E0000"),
    )
    process_scripts(ctx, transport, (body,), 0x72)
    assert bytes(ctx.issuer_script_results) == b"\x12\xaa\xbb\xcc\xdd"
    assert TVR.SCRIPT_FAILED_AFTER_FINAL_GENERATE_AC in ctx.tvr
    assert len(transport.sent) == 2  # processing stops at the failing command


def test_unparsable_script_fails_without_commands() -> None:
    ctx = context()
    transport = ScriptedTransport({})
    process_scripts(ctx, transport, (b"\x71\x09\x86\x05",), 0x71)
    assert TVR.SCRIPT_FAILED_BEFORE_FINAL_GENERATE_AC in ctx.tvr and transport.sent == []
    assert TSI.SCRIPT_PROCESSING_PERFORMED in ctx.tsi


def test_tc_hash_with_default_tdol_sets_tvr() -> None:
    card = FakeCard()
    card.cdol1 = lambda: bytes.fromhex("9F02069814")  # type: ignore[method-assign]
    result = run_transaction(
        card, config(default_tdol=bytes.fromhex("9F0206")), RecordingCallbacks(), txn()
    )
    assert TVR.DEFAULT_TDOL_USED in TVR.from_bytes(result.tvr)
    import hashlib

    first = next(apdu for apdu in card.sent if apdu[1] == 0xAE)
    assert hashlib.sha1(bytes.fromhex("000000001500")).digest() in first


def test_aip_unused_variable_guard() -> None:
    assert AIP.ISSUER_AUTHENTICATION_SUPPORTED == 0x0400


@pytest.mark.parametrize("cid, code", [(0x40, "Y1"), (0x00, "Z1")])
def test_offline_decisions_carry_y1_z1(cid: int, code: str) -> None:
    card = FakeCard(first_cid=cid, iac_online=bytes(5))
    result = run_transaction(card, config(tac_online=bytes(5)), RecordingCallbacks(), txn())
    assert result.receipt["response_code"] == code


def test_advice_bit_reported() -> None:
    result, _ = run(FakeCard(first_cid=0x08))  # AAC with advice required
    assert result.decision is Decision.DECLINED_OFFLINE and result.advice_required
