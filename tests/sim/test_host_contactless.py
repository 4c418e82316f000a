"""sim.host against contactless Visa (qVSDC-style) cards: the ARQC a sim card computed
inside GET PROCESSING OPTIONS (sim.card's cryptogram.py) is verified by the host with
pyemv (emvauth.py), end to end through the real terminal and directly over TCP.

Why this needs care: a Kernel 3 reader hands the card its TVR in the PDOL before any of
its own checks (Book C-3, 5.x: fDDA, expiry, CVM all follow the GPO), then sends its
final TVR in DE 55; the CVN 18 ARQC covers the PDOL's (all-zero) TVR.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyemv import tlv as pyemv_tlv

from sim.card import VirtualCard, load_profile
from sim.card import cryptogram as card_crypto
from sim.host import HostSimulator, emvauth, load_rules
from tests.sim.test_host_card import HOST_TAGS, TERMINAL, _apdu, _dol_data
from tests.sim.test_host_client import TEST_BDK, Client
from tests.terminal.flowrig import Rig, rig

EXAMPLE = Path(__file__).resolve().parents[2] / "sim" / "host" / "rules-example.toml"
QVSDC_PAN = "4761739001010168"  # visa-qvsdc TEST card
WALLET_PAN = "4761739001010176"  # wallet-cdcvm TEST card
READER_TVR = bytes.fromhex("8000000000")  # ODA not performed, set after the GPO
# sim.card's default TEST issuer keys for prefix 4 (sim/host/rules-example.toml)
VISA_KEYS = emvauth.IssuerKeys(
    bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"),
    bytes.fromhex("1123456789ABCDEFFEDCBA9876543211"),
    bytes.fromhex("2123456789ABCDEFFEDCBA9876543212"),
)


@cache
def qvsdc_tap(profile: str = "visa-qvsdc") -> tuple[str, dict[str, bytes], VirtualCard]:
    """SELECT + GPO on a sim qVSDC card (PDOL TVR all zeros); the ARQC comes in the GPO."""
    card = VirtualCard(load_profile(profile), rng=lambda n: bytes(n))
    app = card.profile.applications[0]
    assert _apdu(card, "00A40400", app.aid)[-2:] == b"\x90\x00"
    ttq = {"9F66": bytes.fromhex("26804080")}
    pdol = _dol_data(app.pdol, {**TERMINAL, **ttq})
    assert _apdu(card, "80A80000", b"\x83" + bytes([len(pdol)]) + pdol)[-2:] == b"\x90\x00"
    data = dict(card.last_arqc_data)
    data["9F27"] = b"\x80"
    assert data["95"] == bytes(5)
    return app.pan, data, card


def de55(icc: dict[str, bytes], **override: bytes) -> str:
    values = {**{t: icc[t] for t in HOST_TAGS if t in icc}, **override}
    return pyemv_tlv.encode(values).hex().upper()


def flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


# --- the terminal for real: flows -> emv.contactless Kernel 3 -> sim host ---


@pytest.fixture
def r(tmp_path: Path) -> Iterator[Rig]:
    with rig(tmp_path) as made:
        yield made


def contactless_sale(r: Rig, profile: str, amount: int = 100) -> dict:
    config = {
        "contact_reader": "sim://",
        "extra_devices": {"contactless_reader": f"sim://{profile}"},
    }
    return r.pay(type="sale", amount=amount, entry="contactless", config=config)


def test_qvsdc_online_approved(r: Rig) -> None:
    result = contactless_sale(r, "visa-qvsdc")
    assert result["decision"] == "approved", result
    assert result["response_code"] == "00" and result["entry_mode"].startswith("07")
    assert r.host.ledger.net_amount(pan=QVSDC_PAN) == 100
    answer = next(m for m in r.host.ledger.messages(mti="0210") if m["direction"] == "out")
    issuer_auth = bytes.fromhex(json.loads(answer["fields"]["55"])["91"])  # ledger: tag -> hex
    assert len(issuer_auth) == 8 and issuer_auth[4:] == emvauth.CSU_APPROVED  # ARPC method 2


def test_wallet_cdcvm_online_approved(r: Rig) -> None:
    result = contactless_sale(r, "wallet-cdcvm", amount=2500)
    assert result["decision"] == "approved", result
    assert result["response_code"] == "00"
    assert r.host.ledger.net_amount(pan=WALLET_PAN) == 2500


def test_qvsdc_host_decline_reaches_the_terminal(r: Rig) -> None:
    """The approval above is the ARQC check passing, not the host approving anything."""
    r.host.faults.declines = True
    result = contactless_sale(r, "visa-qvsdc")
    assert result["decision"] == "declined" and result["response_code"] == "05"
    assert r.host.ledger.net_amount(pan=QVSDC_PAN) == 0


# --- over TCP with the card's own GPO cryptogram ---


@pytest.fixture
def host(tmp_path: Path) -> Iterator[HostSimulator]:
    with HostSimulator(load_rules(EXAMPLE), tmp_path / "ledger.db", TEST_BDK) as sim:
        yield sim


def send(host: HostSimulator, pan: str, icc55: str, entry: str = "071") -> tuple[str, dict]:
    client = Client(host.port).connect()
    try:
        fields = client.base("0200", **{"2": pan, "3": "000000", "4": "000000002500", "22": entry})
        fields["23"] = "000"
        fields["55"] = icc55
        resp = client.exchange(fields)
    finally:
        client.close()
    assert resp.mac_ok
    return resp.rc, resp.fields


@pytest.mark.parametrize("profile", ["visa-qvsdc", "wallet-cdcvm"])
def test_gpo_arqc_verified_over_the_pdol_tvr_and_card_accepts_arpc(
    host: HostSimulator, profile: str
) -> None:
    """DE 55 carries the TVR the card saw in the PDOL (all zeros): approved, and the
    card's own code accepts the host's ARPC (Book 2, 8.2.2)."""
    pan, icc, card = qvsdc_tap(profile)
    rc, fields = send(host, pan, de55(icc, **{"95": bytes(5)}))
    assert rc == "00"
    issuer_auth = pyemv_tlv.decode(bytes.fromhex(fields["55"]))["91"]
    app = card.profile.applications[0]
    assert card_crypto.issuer_authentication_ok(
        app.cryptogram, app.icc_keys, icc["9F36"], icc["9F37"], icc["9F26"], issuer_auth
    )


def test_tvr_changed_after_the_gpo_does_not_verify(host: HostSimulator) -> None:
    """The host is strict like an issuer: a TVR other than the one the card's
    cryptogram covered fails the ARQC."""
    pan, icc, _ = qvsdc_tap()
    assert send(host, pan, de55(icc, **{"95": READER_TVR}))[0] == "05"


def test_tampered_qvsdc_arqc_declined_05(host: HostSimulator) -> None:
    pan, icc, _ = qvsdc_tap()
    rc, fields = send(host, pan, de55(icc, **{"95": bytes(5), "9F26": flip(icc["9F26"], 63)}))
    assert rc == "05" and "55" not in fields  # no ARPC for a cryptogram that failed
    assert host.ledger.net_amount(pan=pan) == 0


def test_amount_changed_after_tap_declined(host: HostSimulator) -> None:
    pan, icc, _ = qvsdc_tap()
    icc55 = de55(icc, **{"95": bytes(5), "9F02": bytes.fromhex("000000002501")})
    assert send(host, pan, icc55)[0] == "05"


# --- emvauth directly: any reader TVR, any single-bit change of the cryptogram ---


@settings(deadline=None, max_examples=60)
@given(tvr=st.binary(min_size=5, max_size=5), bit=st.integers(0, 63))
def test_verify_arqc_only_over_the_tvr_the_card_saw(tvr: bytes, bit: int) -> None:
    pan, icc, _ = qvsdc_tap()
    sent = {**icc, "95": tvr}
    auth = emvauth.verify_arqc(VISA_KEYS, pan, "00", sent)
    assert auth.cvn == "visa18"
    assert auth.arqc_ok is (tvr == bytes(5))
    tampered = {**icc, "95": bytes(5), "9F26": flip(icc["9F26"], bit)}
    assert emvauth.verify_arqc(VISA_KEYS, pan, "00", tampered).arqc_ok is False
