"""Cross-check: cards built by sim/card (someone else's Book 2 builder) verify here.

Runs whole transactions through emv.kernel against the in-process virtual card
and looks at what ODA and CVM left in TVR, TSI and CVM Results.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from emv.bits import TSI, TVR
from emv.config import AidEntry, CaPublicKey, KernelConfig, RevokedCertificate
from emv.context import TransactionInput
from emv.kernel import run_transaction
from sim.card import VirtualCard, load_profile
from tests.emv.cvm_support import ONLINE, PinPad, entered

ROOT = Path(__file__).resolve().parents[2]
ODA_BITS = (
    TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED
    | TVR.SDA_FAILED
    | TVR.DDA_FAILED
    | TVR.CDA_FAILED
    | TVR.ICC_DATA_MISSING
)


def sim_config() -> KernelConfig:
    data = tomllib.loads((ROOT / "sim/ca/ca_public_keys.toml").read_text())
    keys = tuple(
        CaPublicKey(
            bytes.fromhex(k["rid"]),
            int(k["index"], 16),
            bytes.fromhex(k["modulus"]),
            bytes.fromhex(k["exponent"]),
            dt.datetime.strptime(k["expiry"], "%Y%m%d").date(),
        )
        for k in data["ca_keys"]
    )
    revoked = frozenset(
        RevokedCertificate(bytes.fromhex(r["rid"]), int(r["index"], 16), bytes.fromhex(r["serial"]))
        for r in data.get("revocations", [])
    )
    # Visa and Mastercard RIDs with partial selection cover every profile's AID
    aids = (AidEntry(bytes.fromhex("A000000003")), AidEntry(bytes.fromhex("A000000004")))
    return KernelConfig(aids=aids, ca_keys=keys, revoked=revoked)


def pin_block(pin: str) -> bytes:
    # EMV 4.4 Book 3, 6.5.12: format 2 plaintext PIN block
    return bytes.fromhex(f"2{len(pin):X}{pin}".ljust(16, "F"))


def run(profile: str, pin: str = "1234"):  # type: ignore[no-untyped-def]
    card = VirtualCard(load_profile(profile))
    txn = TransactionInput(
        amount=1500,
        date=dt.date(2026, 11, 25),
        time=dt.time(10, 0),
        unpredictable_number=bytes.fromhex("0BADF00D"),
    )
    pad = PinPad([entered(pin_block(pin)) for _ in range(3)])
    return run_transaction(card, sim_config(), pad, txn), pad


@pytest.mark.parametrize(
    ("profile", "tvr_oda"),
    [
        ("visa-sda", TVR(0)),
        ("mc-dda", TVR(0)),
        ("visa-cda", TVR(0)),
        ("visa-bad-sda", TVR.SDA_FAILED),
        ("visa-revoked-cert", None),
    ],
)
def test_sim_cards_authenticate(profile: str, tvr_oda: TVR | None) -> None:
    result, _ = run(profile)
    tvr = TVR.from_bytes(result.tvr) & ODA_BITS
    if tvr_oda is None:  # revoked: whichever method the card uses has failed
        assert tvr & (TVR.SDA_FAILED | TVR.DDA_FAILED | TVR.CDA_FAILED), result
    else:
        assert tvr == tvr_oda, (result.decision, result.reason, result.detail, str(tvr))
    assert TSI.OFFLINE_DATA_AUTHENTICATION_PERFORMED in TSI.from_bytes(result.tsi)


@pytest.mark.parametrize(
    ("profile", "pin", "cvm_results"),
    [
        ("visa-offline-pin", "1234", "010002"),
        ("mc-enc-pin", "4321", "040002"),
        ("visa-cda", "1234", "440302"),
    ],
)
def test_sim_cards_verify_offline_pin(profile: str, pin: str, cvm_results: str) -> None:
    result, _pad = run(profile, pin)
    code, _condition, outcome = result.cvm_results
    expected = bytes.fromhex(cvm_results)
    assert (code & 0x3F, outcome) == (expected[0] & 0x3F, expected[2]), result.cvm_results.hex()


def test_sim_cards_other_cvms() -> None:
    result, _ = run("visa-signature")
    assert result.cvm_results[0] & 0x3F == 0x1E and result.cvm_results[2] == 0x00
    assert result.signature_required
    result, _ = run("visa-no-cvm")
    assert result.cvm_results[0] & 0x3F == 0x1F and result.cvm_results[2] == 0x02
    result, _ = run("visa-pin-blocked")
    assert TVR.PIN_TRY_LIMIT_EXCEEDED in TVR.from_bytes(result.tvr)
    assert result.cvm_results[0] & 0x3F == 0x1E  # fell through to signature


def test_sim_card_online_pin() -> None:
    card = VirtualCard(load_profile("visa-online-pin"))
    txn = TransactionInput(
        amount=1500,
        date=dt.date(2026, 11, 25),
        time=dt.time(10, 0),
        unpredictable_number=bytes.fromhex("0BADF00D"),
    )
    result = run_transaction(card, sim_config(), PinPad([ONLINE]), txn)
    assert result.cvm_results[0] & 0x3F == 0x02 and result.cvm_results[2] == 0x00
    assert TVR.ONLINE_CVM_CAPTURED in TVR.from_bytes(result.tvr)


@pytest.mark.parametrize(
    ("faults", "bit"),
    [
        ({"bad_signatures": frozenset({"sdad"})}, TVR.CDA_FAILED),
        ({"expired_certs": frozenset({"issuer"})}, TVR.CDA_FAILED),
        ({"expired_certs": frozenset({"icc"})}, TVR.CDA_FAILED),
    ],
)
def test_sim_card_cda_failures_decline(faults: dict[str, frozenset[str]], bit: TVR) -> None:
    """Book 4, 6.3.2.1: CDA failing before or at GENERATE AC never ends approved."""
    from sim.card import Faults

    card = VirtualCard(load_profile("visa-cda"), faults=Faults(**faults))  # type: ignore[arg-type]
    txn = TransactionInput(
        amount=1500,
        date=dt.date(2026, 11, 25),
        time=dt.time(10, 0),
        unpredictable_number=bytes.fromhex("0BADF00D"),
    )
    result = run_transaction(card, sim_config(), PinPad([entered(pin_block("1234"))]), txn)
    assert bit in TVR.from_bytes(result.tvr), (result.decision, result.detail)
    assert not result.approved
