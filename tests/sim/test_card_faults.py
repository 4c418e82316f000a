"""Faults on demand: wrong status words, malformed TLV, missing data, a card pulled
mid-transaction, a slow card (bad/expired/revoked certificates: test_card_certs)."""

from __future__ import annotations

import pytest

from emv.transport import CardTransportError
from sim.card import CardPulledError, Faults, VirtualCard, load_profile
from sim.card.faults import COMMANDS
from tests.sim.test_card_kit import apdu, select_and_read, tlv_flat, tlv_items

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
AID = bytes.fromhex("A0000000031010")


def test_wrong_status_word_for_one_command() -> None:
    card = VirtualCard(load_profile("visa-cda"), faults=Faults(status_words={"GPO": 0x6985}))
    assert card.transmit(apdu("00A40400", AID))[-2:] == b"\x90\x00"
    assert card.transmit(bytes.fromhex("80A80000048302082600")) == b"\x69\x85"


def test_status_words_from_profile_table() -> None:
    raw = dict(load_profile("visa-sda").raw)
    raw["faults"] = {"status_words": {"READ_RECORD": "6A83"}}
    from sim.card.profile import build_profile

    card = VirtualCard(build_profile(raw))
    card.transmit(apdu("00A40400", bytes.fromhex("A0000000032010")))
    card.transmit(bytes.fromhex("80A8000002830000"))
    assert card.transmit(bytes.fromhex("00B2010C00")) == b"\x6a\x83"


def test_malformed_tlv_response() -> None:
    card = VirtualCard(load_profile("visa-cda"), faults=Faults(malformed_tlv=frozenset({"SELECT"})))
    body = card.transmit(apdu("00A40400", AID))
    assert body[-2:] == b"\x90\x00"
    with pytest.raises(ValueError, match="overruns"):
        tlv_items(body[:-2])


def test_missing_mandatory_data() -> None:
    card = VirtualCard(
        load_profile("visa-offline-pin"), faults=Faults(missing_tags=frozenset({"5F24", "8C"}))
    )
    txn = select_and_read(card)
    assert "5F24" not in txn.data and "8C" not in txn.data
    assert "5A" in txn.data


def test_card_pulled_after_n_apdus() -> None:
    card = VirtualCard(load_profile("visa-cda"), faults=Faults(pull_after=3))
    card.transmit(apdu("00A40400", AID))
    card.transmit(bytes.fromhex("80A80000048302082600"))
    with pytest.raises(CardPulledError):
        card.transmit(bytes.fromhex("00B2010C00"))
    with pytest.raises(CardTransportError):
        card.transmit(bytes.fromhex("00B2010C00"))


def test_slow_card_sleeps_per_command() -> None:
    slept: list[float] = []
    card = VirtualCard(load_profile("visa-slow"), sleep=slept.append)
    txn = select_and_read(card)
    assert slept and all(s == pytest.approx(0.05) for s in slept)
    txn.send(apdu("80AE8000", bytes(43)))
    assert slept[-1] == pytest.approx(0.35)


def test_slow_card_really_waits() -> None:
    import time

    card = VirtualCard(load_profile("visa-cda"), faults=Faults(delay=0.02))
    start = time.monotonic()
    card.transmit(apdu("00A40400", AID))
    assert time.monotonic() - start >= 0.02


def test_fault_names_are_the_commands_the_card_knows() -> None:
    from sim.card.card import _HANDLERS

    assert set(_HANDLERS) == COMMANDS


def test_faults_from_dict_parses_hex_and_ints() -> None:
    faults = Faults.from_dict(
        {
            "status_words": {"gpo": "6985", "VERIFY": 0x6983},
            "pull_after": 4,
            "missing_tags": ["5f24"],
        }
    )
    assert faults.status_words == {"GPO": 0x6985, "VERIFY": 0x6983}
    assert faults.pull_after == 4 and faults.missing_tags == frozenset({"5F24"})
    merged = faults.merged(Faults(status_words={"GPO": 0x6A81}, delay=0.1))
    assert merged.status_words["GPO"] == 0x6A81 and merged.delay == 0.1 and merged.pull_after == 4


def test_repr_shows_no_secrets() -> None:
    profile = load_profile("visa-cda")
    app = profile.applications[0]
    text = (
        repr(profile) + repr(app) + repr(app.issuer_keys) + repr(app.icc_keys) + repr(app.icc_key)
    )
    text += repr(VirtualCard(profile))
    assert app.pan not in text and "1234" not in text
    assert app.issuer_keys.ac.hex() not in text.lower()


def test_gpo_response_well_formed_without_faults() -> None:
    txn = select_and_read(VirtualCard(load_profile("mc-contactless")))
    assert tlv_flat(txn.gpo)["82"] == bytes.fromhex("1980")
