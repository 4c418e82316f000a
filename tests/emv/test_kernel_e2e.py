"""run_transaction end to end over hand-built cards: flows, terminations, trace, result."""

from __future__ import annotations

import pytest

from emv.bits import TSI, TVR
from emv.kernel import run_transaction
from emv.outcome import Decision, TerminationReason
from emv.result import DE55_TAGS
from emv.trace import format_trace
from tests.emv.scripted import OK, PAN, FakeCard, RecordingCallbacks, config, fci, t, txn


def run(card: FakeCard, callbacks: RecordingCallbacks | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    return run_transaction(card, config(), callbacks or RecordingCallbacks(), txn(**kwargs))


def test_online_approved_result_carries_de55_receipt_and_trace() -> None:
    result = run(FakeCard())
    assert result.decision is Decision.APPROVED_ONLINE and result.approved
    assert result.cryptogram_type == "TC" and result.cryptogram == bytes.fromhex("1122334455667788")
    for tag in DE55_TAGS:
        if tag not in (0x9F03,):  # amount other is zero but still sent as 000000000000
            assert tag in result.de55_tags, f"{tag:X}"
    assert result.de55_tags[0x5F34] == b"\x01"
    assert result.receipt["pan"] == "476173******0119"
    assert result.receipt["aid"] == "A0000000031010"
    text = format_trace(result.trace)
    assert PAN not in text and "GENERATE AC" in text and "476173******0119" in text
    assert result.pan_masked == "476173******0119"


def test_gpo_6985_returns_to_selection_without_that_application() -> None:
    card = FakeCard(gpo_sw=b"\x69\x85")
    result = run(card)
    assert result.decision is Decision.TERMINATED
    assert result.reason is TerminationReason.NO_COMMON_APPLICATION
    assert sum(1 for apdu in card.sent if apdu[1] == 0xA8) == 1


class TwoAppCard(FakeCard):
    """PSE lists Visa and Mastercard; GPO on Visa answers 6985."""

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[1] == 0xB2 and self.selected == b"1PAY.SYS.DDF01" and apdu[2] == 1:
            self.sent.append(apdu)
            first = t(0x61, t(0x4F, bytes.fromhex("A0000000031010")), t(0x87, b"\x01"))
            second = t(0x61, t(0x4F, bytes.fromhex("A0000000041010")), t(0x87, b"\x02"))
            return t(0x70, first, second) + OK
        if apdu[1] == 0xA4 and apdu[5:12] == bytes.fromhex("A0000000041010"):
            self.sent.append(apdu)
            self.selected = bytes.fromhex("A0000000041010")
            self.aid = self.selected
            return fci(self.selected, t(0x87, b"\x02")) + OK
        if apdu[1] == 0xA8 and self.selected == bytes.fromhex("A0000000031010"):
            self.sent.append(apdu)
            return b"\x69\x85"
        return super().transmit(apdu)


def test_gpo_6985_selects_the_next_candidate() -> None:
    card = TwoAppCard()
    callbacks = RecordingCallbacks(choice=0)
    result = run(card, callbacks)
    assert result.aid == bytes.fromhex("A0000000041010")
    assert result.decision is Decision.APPROVED_ONLINE
    assert len(callbacks.choices) == 1  # one candidate left: no second choice


def test_card_removed_mid_transaction() -> None:
    result = run(FakeCard(fail_after=8))
    assert (
        result.decision is Decision.TERMINATED and result.reason is TerminationReason.CARD_REMOVED
    )
    assert not result.fallback_allowed


def test_chip_data_error_allows_fallback_when_configured() -> None:
    card = FakeCard(records_override={(1, 1): b"\x70\x05\x5a\x08" + OK})
    result = run(card)
    assert result.decision is Decision.TERMINATED and result.fallback_allowed


def test_card_blocked_6a81_no_fallback() -> None:
    class Blocked(FakeCard):
        def transmit(self, apdu: bytes) -> bytes:
            return b"\x6a\x81"

    result = run(Blocked())
    assert result.reason is TerminationReason.CARD_BLOCKED and not result.fallback_allowed


def test_offline_approval_under_floor_limit() -> None:
    card = FakeCard(first_cid=0x40, iac_online=bytes(5))
    cfg = config(tac_online=bytes(5), tac_default=bytes(5))
    result = run_transaction(card, cfg, RecordingCallbacks(), txn())
    assert result.decision is Decision.APPROVED_OFFLINE
    genacs = [apdu for apdu in card.sent if apdu[1] == 0xAE]
    assert len(genacs) == 1 and genacs[0][2] == 0x40


def test_over_floor_limit_goes_online() -> None:
    cfg = config(tac_online=bytes.fromhex("0000008000"), tac_default=bytes(5))
    callbacks = RecordingCallbacks()
    result = run_transaction(FakeCard(), cfg, callbacks, txn(amount=20000))
    assert TVR.FLOOR_LIMIT_EXCEEDED in TVR.from_bytes(result.tvr)
    assert callbacks.requests and result.decision is Decision.APPROVED_ONLINE


def test_tsi_after_online_transaction() -> None:
    result = run(FakeCard())
    tsi = TSI.from_bytes(result.tsi)
    assert TSI.CARD_RISK_MANAGEMENT_PERFORMED in tsi
    assert TSI.TERMINAL_RISK_MANAGEMENT_PERFORMED in tsi


@pytest.mark.parametrize("merchant_forced", [True])
def test_merchant_forced_online(merchant_forced: bool) -> None:
    result = run(FakeCard(), force_online=merchant_forced)
    assert TVR.MERCHANT_FORCED_ONLINE in TVR.from_bytes(result.tvr)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": -1},
        {"amount": 10**12},
        {"unpredictable_number": b"\x00"},
        {"random_selection": 0},
    ],
)
def test_bad_transaction_input_is_refused_before_the_card(kwargs: dict[str, object]) -> None:
    from emv.context import TransactionInputError

    with pytest.raises(TransactionInputError):
        txn(**kwargs)


def test_read_card_data_stops_after_records() -> None:
    from emv.context import TransactionContext
    from emv.kernel import read_card_data

    card = FakeCard()
    ctx = TransactionContext.new(config(), txn())
    assert read_card_data(ctx, card, RecordingCallbacks()) is None
    assert ctx.pan == PAN and 0x8C in ctx.card
    assert not any(apdu[1] in (0xAE, 0xCA) for apdu in card.sent)


def test_read_card_data_reports_removal() -> None:
    from emv.context import TransactionContext
    from emv.kernel import read_card_data

    ctx = TransactionContext.new(config(), txn())
    outcome = read_card_data(ctx, FakeCard(fail_after=3), RecordingCallbacks())
    assert outcome is not None and outcome.reason is TerminationReason.CARD_REMOVED
