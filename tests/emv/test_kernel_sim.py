"""End to end against the simulator's card profiles (sim.card, real cryptography)."""

from __future__ import annotations

import pytest

import sim.card as sim_card
from emv.bits import TSI, TVR
from emv.kernel import run_transaction
from emv.outcome import Decision, TerminationReason
from tests.emv.scripted import txn
from tests.emv.sim_support import PinCallbacks, sim_config

CHIP_PROFILES = [name for name in sim_card.list_profiles() if name != "magstripe-only"]


def run(name: str, callbacks: PinCallbacks | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    card = sim_card.VirtualCard(sim_card.load_profile(name))
    callbacks = callbacks or PinCallbacks()
    return run_transaction(card, sim_config(), callbacks, txn(**kwargs)), callbacks


@pytest.mark.parametrize("name", CHIP_PROFILES)
def test_every_profile_ends_in_a_documented_outcome(name: str) -> None:
    result, _ = run(name)
    assert isinstance(result.decision, Decision)
    assert len(result.tvr) == 5 and len(result.tsi) == 2 and len(result.cvm_results) == 3
    if result.decision is not Decision.TERMINATED:
        assert result.cryptogram_type in ("TC", "AAC")
        assert result.de55_tags[0x9F27] and result.de55_tags[0x95] == result.tvr
    # the masked trace never holds a full PAN (5A, 57 and track data are masked)
    for app in sim_card.load_profile(name).applications:
        for entry in result.trace:
            assert app.pan not in entry.response.hex().upper()
            assert app.pan not in entry.description


def test_cda_profile_requests_cda_and_verifies_it() -> None:
    result, callbacks = run("visa-cda")
    first = next(entry for entry in result.trace if entry.command[1] == 0xAE)
    assert first.command[2] & 0x10  # CDA signature requested
    tvr = TVR.from_bytes(result.tvr)
    assert TVR.CDA_FAILED not in tvr and TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED not in tvr
    assert TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in TSI.from_bytes(result.tsi)
    assert result.approved
    assert callbacks.requests and callbacks.requests[0].de55[0x9F27] == b"\x80"


@pytest.mark.parametrize(
    "name, bit",
    [
        ("visa-expired", TVR.EXPIRED_APPLICATION),
        ("visa-not-effective", TVR.APPLICATION_NOT_YET_EFFECTIVE),
        ("visa-bad-sda", TVR.SDA_FAILED),
        ("visa-revoked-cert", TVR.DDA_FAILED),
        ("visa-pin-blocked", TVR.PIN_TRY_LIMIT_EXCEEDED),
        ("visa-online-pin", TVR.ONLINE_CVM_CAPTURED),
    ],
)
def test_profile_sets_the_expected_tvr_bit(name: str, bit: TVR) -> None:
    result, _ = run(name)
    assert bit in TVR.from_bytes(result.tvr)


def test_blocked_application_terminates() -> None:
    result, _ = run("visa-blocked")
    assert result.decision is Decision.TERMINATED
    assert result.reason is TerminationReason.APPLICATION_BLOCKED


@pytest.mark.parametrize("name", ["visa-qvsdc", "wallet-cdcvm"])
def test_contactless_only_cards_have_no_common_contact_application(name: str) -> None:
    result, _ = run(name)
    assert result.reason is TerminationReason.NO_COMMON_APPLICATION
    assert result.fallback_allowed  # chip read but nothing to do: fallback may be offered


def test_offline_plaintext_pin_verified_by_card() -> None:
    result, callbacks = run("visa-offline-pin")
    assert [request.kind.value for request in callbacks.pins] == ["offline_plaintext"]
    assert result.cvm_results[2] == 0x02  # successful
    verify = next(entry for entry in result.trace if entry.command[1] == 0x20)
    assert set(verify.command[5:]) == {0}  # PIN block masked in the trace


def test_multi_app_offers_a_choice() -> None:
    result, callbacks = run("multi-app")
    assert callbacks.choices and len(callbacks.choices[0]) > 1
    assert result.aid == callbacks.choices[0][0].aid


def test_online_pin_block_reaches_the_host_callback() -> None:
    _, callbacks = run("visa-online-pin")
    pin = callbacks.requests[0].online_pin
    assert pin is not None and pin.online_block == bytes.fromhex("0123456789ABCDEF")
    assert "0123" not in repr(pin)


@pytest.mark.parametrize("name, pin", [("mc-enc-pin", "4321"), ("visa-cda", "1234")])
def test_offline_enciphered_pin_verified_by_card(name: str, pin: str) -> None:
    from tests.emv.sim_support import EncipheringPinCallbacks

    result, callbacks = run(name, EncipheringPinCallbacks(pin))
    assert [request.kind.value for request in callbacks.pins] == ["offline_enciphered"]
    assert result.cvm_results[0] & 0x3F == 0x04 and result.cvm_results[2] == 0x02
    assert any(entry.command[1] == 0x84 for entry in result.trace)  # GET CHALLENGE
    verify = next(entry for entry in result.trace if entry.command[1] == 0x20)
    assert verify.command[3] == 0x88 and set(verify.command[5:]) == {0}
    assert result.approved


def test_wrong_offline_pin_counts_down_then_succeeds() -> None:
    class Typo(PinCallbacks):
        def __init__(self) -> None:
            super().__init__()
            self.tries = iter(["9999", "1234"])

        def enter_pin(self, request):  # type: ignore[no-untyped-def]
            self.pin = next(self.tries)
            return super().enter_pin(request)

    result, callbacks = run("visa-offline-pin", Typo())
    assert len(callbacks.pins) == 2
    assert callbacks.pins[1].try_counter == callbacks.pins[0].try_counter - 1  # type: ignore[operator]
    assert result.cvm_results[2] == 0x02


@pytest.mark.parametrize("pull_after", range(0, 16))
def test_card_pulled_at_any_point_is_card_removed(pull_after: int) -> None:
    card = sim_card.VirtualCard(
        sim_card.load_profile("visa-cda"), faults=sim_card.Faults(pull_after=pull_after)
    )
    result = run_transaction(card, sim_config(), PinCallbacks(), txn())
    assert result.decision is Decision.TERMINATED
    assert result.reason is TerminationReason.CARD_REMOVED
    assert not result.fallback_allowed


@pytest.mark.parametrize(
    "faults, reason",
    [
        ({"missing_tags": frozenset({"5F24"})}, TerminationReason.MISSING_MANDATORY_DATA),
        ({"status_words": {"GPO": 0x6985}}, TerminationReason.NO_COMMON_APPLICATION),
        ({"status_words": {"GENERATE_AC": 0x6F00}}, TerminationReason.NOT_ACCEPTED),
        ({"malformed_tlv": frozenset({"READ_RECORD"})}, TerminationReason.DATA_FORMAT_ERROR),
    ],
)
def test_card_faults_end_in_the_documented_termination(
    faults: dict[str, object], reason: TerminationReason
) -> None:
    card = sim_card.VirtualCard(sim_card.load_profile("visa-cda"), faults=sim_card.Faults(**faults))  # type: ignore[arg-type]
    result = run_transaction(card, sim_config(), PinCallbacks(), txn())
    assert result.decision is Decision.TERMINATED
    assert result.reason is reason, result.detail
