"""Every chip profile's cryptograms, checked against pyemv's CVN classes and against
an independent recomputation (single-DES ISO 9797-1 MAC algorithm 3, own key
derivation) that shares no code with the card.

Vectors: pyemv's published doctest vectors (pyemv/cvn.py module docstring, CVN 18:
ARQC 769577B5ABE9FE62, ARPC 76503F48) are reproduced by the independent code first,
so the reference itself is pinned.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyemv import cvn as pyemv_cvn

from sim.card import VirtualCard, list_profiles, load_profile
from tests.sim.test_card_kit import (
    common_sk,
    generate_ac,
    icc_mk_option_a,
    recover_icc,
    recover_issuer,
    recover_sdad,
    retail_mac,
    select_and_read,
    tlv_flat,
    tlv_items,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

AC_TAGS = ("9F02", "9F03", "9F1A", "95", "5F2A", "9A", "9C", "9F37")
PYEMV_CLASSES = {
    "visa-cvn10": pyemv_cvn.VisaCVN10,
    "visa-cvn18": pyemv_cvn.VisaCVN18,
    "mc-cvn16": pyemv_cvn.MasterCardCVN16,
}


def _emv_profiles() -> list[str]:
    out = []
    for name in list_profiles():
        profile = load_profile(name)
        if profile.has_chip and not profile.applications[0].blocked and profile.faults.delay == 0:
            out.append(name)
    return out


def test_independent_code_reproduces_pyemv_published_vector() -> None:
    """pyemv/cvn.py docstring, VisaCVN18: IMK AA.., PAN 1234567890123456, PSN 00, ATC 0FFF."""
    mk = icc_mk_option_a(bytes.fromhex("AA" * 16), "1234567890123456", "00")
    sk = common_sk(mk, bytes.fromhex("0FFF") + b"\x00" * 6)
    data = bytes.fromhex(
        "0000000099990000000000000840800004800008409912310152BF458518000FFF06011203A0B800"
    )
    assert retail_mac(sk, data, 2).hex().upper() == "769577B5ABE9FE62"


def _independent_ac(
    version: str, mk: bytes, terminal: dict[str, bytes], aip: bytes, atc: bytes, iad: bytes
) -> bytes:
    data = b"".join(terminal[t] for t in AC_TAGS) + aip + atc
    if version == "visa-cvn10":
        return retail_mac(mk, data + iad[3:7], 1)
    if version == "visa-cvn18":
        return retail_mac(common_sk(mk, atc + b"\x00" * 6), data + iad, 2)
    return retail_mac(common_sk(mk, atc + b"\x00\x00" + terminal["9F37"]), data + iad[2:8], 2)


def _pyemv_ac(
    version: str, app, terminal: dict[str, bytes], aip: bytes, atc: bytes, iad: bytes
) -> bytes:  # type: ignore[no-untyped-def]
    keys = app.issuer_keys
    card = PYEMV_CLASSES[version](keys.ac, keys.smi, keys.smc, app.pan, app.psn)
    args = {f"tag_{t.lower()}": terminal[t] for t in AC_TAGS}
    args.update(tag_82=aip, tag_9f36=atc)
    if version == "visa-cvn10":
        return card.generate_ac(**args, cvr=iad[3:7])
    if version == "visa-cvn18":
        return card.generate_ac(**args, tag_9f10=iad)
    return card.generate_ac(**args, cvr=iad[2:8])


def _first_ac(name: str) -> tuple:  # type: ignore[type-arg]
    profile = load_profile(name)
    app = profile.applications[0]
    card = VirtualCard(profile)
    txn = select_and_read(card)
    if app.kernel == "qvsdc":
        flat = tlv_flat(txn.gpo)
        return (
            app,
            txn.terminal,
            flat["82"],
            flat["9F36"],
            flat["9F10"],
            flat["9F26"],
            flat["9F27"][0],
        )
    cda = bool(txn.aip[0] & 0x01)
    body, sw, _ = generate_ac(txn, 0x80 | (0x10 if cda else 0))
    assert sw == 0x9000
    tag, value = tlv_items(body)[0]
    if tag == "80":
        cid, atc, ac, iad = value[0], value[1:3], value[3:11], value[11:]
    else:
        flat = tlv_flat(body)
        cid, atc, iad = flat["9F27"][0], flat["9F36"], flat["9F10"]
        if "9F4B" in flat:
            chain = recover_issuer(txn)
            icc = recover_icc(txn, chain)
            dynamic = recover_sdad(flat["9F4B"], icc, txn.terminal["9F37"])
            ac = dynamic[1 + dynamic[0] + 1 : 1 + dynamic[0] + 9]
        else:
            ac = flat["9F26"]
    return app, txn.terminal, txn.aip, atc, iad, ac, cid


@pytest.mark.parametrize("name", _emv_profiles())
def test_arqc_matches_pyemv_and_independent_code(name: str) -> None:
    app, terminal, aip, atc, iad, ac, cid = _first_ac(name)
    assert cid == 0x80
    assert ac == _pyemv_ac(app.cryptogram, app, terminal, aip, atc, iad)
    mk = icc_mk_option_a(app.issuer_keys.ac, app.pan, app.psn)
    assert ac == _independent_ac(app.cryptogram, mk, terminal, aip, atc, iad)


def test_three_cryptogram_versions_are_covered() -> None:
    versions = {load_profile(n).applications[0].cryptogram for n in _emv_profiles()}
    assert versions == set(PYEMV_CLASSES)


@pytest.mark.parametrize("name", ["visa-offline-pin", "visa-cda", "mc-dda", "mc-enc-pin"])
def test_second_generate_ac_tc_after_valid_arpc(name: str) -> None:
    profile = load_profile(name)
    app = profile.applications[0]
    card = VirtualCard(profile)
    txn = select_and_read(card)
    body, sw, _ = generate_ac(txn, 0x80)
    assert sw == 0x9000
    flat = tlv_flat(body) if body[0] == 0x77 else {}
    if body[0] == 0x80:
        value = tlv_items(body)[0][1]
        atc, arqc = value[1:3], value[3:11]
    else:
        atc, arqc = flat["9F36"], flat["9F26"]
    keys = app.issuer_keys
    ref = PYEMV_CLASSES[app.cryptogram](keys.ac, keys.smi, keys.smc, app.pan, app.psn)
    if app.cryptogram == "visa-cvn18":
        auth = ref.generate_arpc(arqc, atc, b"\x00\x00\x00\x00") + b"\x00\x00\x00\x00"
    else:
        auth = ref.generate_arpc(arqc, b"00") + b"00"
    body, sw, _ = generate_ac(txn, 0x40, "8D", **{"91": auth, "8A": b"00"})
    assert sw == 0x9000
    cid = tlv_items(body)[0][1][0] if body[0] == 128 else tlv_flat(body)["9F27"][0]
    assert cid == 0x40
    assert card.states[app.aid].last_online_atc == int.from_bytes(atc, "big")


def test_bad_arpc_turns_second_generate_ac_into_aac() -> None:
    card = VirtualCard(load_profile("visa-offline-pin"))
    txn = select_and_read(card)
    generate_ac(txn, 0x80)
    body, sw, _ = generate_ac(txn, 0x40, "8D", **{"91": b"\x11" * 8 + b"00"})
    assert sw == 0x9000
    assert tlv_items(body)[0][1][0] == 0x00  # AAC
    iad = tlv_items(body)[0][1][11:]
    assert iad[4] & 0x08, "CVR: issuer authentication failed"


@pytest.mark.parametrize("version_profile", ["visa-offline-pin", "visa-cda", "mc-dda"])
def test_external_authenticate_checks_arpc(version_profile: str) -> None:
    profile = load_profile(version_profile)
    app = profile.applications[0]
    keys = app.issuer_keys
    ref = PYEMV_CLASSES[app.cryptogram](keys.ac, keys.smi, keys.smc, app.pan, app.psn)
    for good in (True, False):
        card = VirtualCard(profile)
        txn = select_and_read(card)
        body, _, _ = generate_ac(txn, 0x80)
        flat = tlv_flat(body) if body[0] == 0x77 else {}
        if body[0] == 0x80:
            value = tlv_items(body)[0][1]
            atc, arqc = value[1:3], value[3:11]
        else:
            atc, arqc = flat["9F36"], flat["9F26"]
        if app.cryptogram == "visa-cvn18":
            auth = ref.generate_arpc(arqc, atc, b"\x00" * 4) + b"\x00" * 4
        else:
            auth = ref.generate_arpc(arqc, b"00") + b"00"
        if not good:
            auth = bytes([auth[0] ^ 1]) + auth[1:]
        _, sw = txn.send(bytes.fromhex("00820000") + bytes([len(auth)]) + auth)
        assert sw == (0x9000 if good else 0x6300)
        _, sw = txn.send(bytes.fromhex("00820000") + bytes([len(auth)]) + auth)
        assert sw == 0x6985, "only once per transaction"


def _script_card(name: str):  # type: ignore[no-untyped-def]
    profile = load_profile(name)
    app = profile.applications[0]
    card = VirtualCard(profile)
    txn = select_and_read(card)
    body, _, _ = generate_ac(txn, 0x80)
    if body[0] == 0x80:
        value = tlv_items(body)[0][1]
        atc, arqc = value[1:3], value[3:11]
    else:
        flat = tlv_flat(body)
        atc, arqc = flat["9F36"], flat["9F26"]
    keys = app.issuer_keys
    ref = PYEMV_CLASSES[app.cryptogram](keys.ac, keys.smi, keys.smc, app.pan, app.psn)
    return card, txn, app, ref, atc, arqc


@pytest.mark.parametrize("name", ["visa-offline-pin", "mc-dda", "visa-cda"])
def test_application_block_script_needs_a_valid_mac(name: str) -> None:
    card, txn, app, ref, atc, arqc = _script_card(name)
    header = bytes.fromhex("841E000008")
    mac = ref.generate_command_mac(header, arqc, atc)
    _, sw = txn.send(header + bytes([mac[0] ^ 0x80]) + mac[1:])
    assert sw == 0x6988
    _, sw = txn.send(header + mac)
    assert sw == 0x9000
    assert card.states[app.aid].blocked
    body, sw, _ = generate_ac(txn, 0x40, "8D")
    cid = body[2] if body[0] == 0x80 else tlv_flat(body)["9F27"][0]
    assert sw == 0x9000 and cid == 0x00, "a blocked application answers AAC"
    _, sw = txn.send("00A40400" + f"{len(app.aid):02X}" + app.aid.hex() + "00")
    assert sw == 0x6283
    _, sw = txn.send("80A8000002830000")
    assert sw == 0x6985


def test_pin_change_script_visa_and_pin_unblock() -> None:
    card, txn, app, ref, atc, arqc = _script_card("visa-offline-pin")
    command = ref.generate_pin_change_command("9876", arqc, atc, current_pin="1234")
    _, sw = txn.send(command)
    assert sw == 0x9000
    assert card.states[app.aid].pin == "9876"
    _, sw = txn.send(bytes.fromhex("0020008008") + bytes.fromhex("249876FFFFFFFFFF"))
    assert sw == 0x9000, "the new PIN verifies"
    card.states[app.aid].pin_tries = 0
    txn = select_and_read(card)
    generate_ac(txn, 0x80)
    arqc2 = card.session.arqc
    atc2 = card.states[app.aid].atc.to_bytes(2, "big")
    header = bytes.fromhex("8424000008")
    _, sw = txn.send(header + ref.generate_command_mac(header, arqc2, atc2))
    assert sw == 0x9000
    assert card.states[app.aid].pin_tries == app.pin_try_limit


def test_put_data_script_updates_lcol() -> None:
    _card, txn, _app, ref, atc, arqc = _script_card("visa-cda")
    # Book 3 6.5.11 PUT DATA: the new value, then the MAC (Lc covers both)
    header = bytes.fromhex("84DA9F1409")
    mac = ref.generate_command_mac(header, arqc, atc, b"\x07")
    _, sw = txn.send(header + b"\x07" + mac)
    assert sw == 0x9000
    value, sw = txn.send("80CA9F1400")
    assert (value, sw) == (bytes.fromhex("9F140107"), 0x9000)


def test_script_without_prior_arqc_is_refused() -> None:
    card = VirtualCard(load_profile("visa-cda"))
    txn = select_and_read(card)
    _, sw = txn.send("841E000008" + "00" * 8)
    assert sw == 0x6985


def test_pin_change_script_mastercard_second_command_uses_ac_plus_one() -> None:
    """pyemv MasterCardCVN16: the SM key comes from the AC, +1 for each later command."""
    card, txn, app, ref, atc, arqc = _script_card("mc-enc-pin")
    header = bytes.fromhex("8418000008")  # APPLICATION UNBLOCK first (a no-op here)
    _, sw = txn.send(header + ref.generate_command_mac(header, arqc, atc))
    assert sw == 0x9000
    next_ac = (int.from_bytes(arqc, "big") + 1).to_bytes(8, "big")
    stale = ref.generate_pin_change_command("5555", arqc, atc)
    assert txn.send(stale)[1] == 0x6988, "the first command's AC no longer fits"
    _, sw = txn.send(ref.generate_pin_change_command("5555", next_ac, atc))
    assert sw == 0x9000
    assert card.states[app.aid].pin == "5555"


@settings(max_examples=40)
@given(
    name=st.sampled_from(["visa-sda", "visa-cda", "mc-dda", "visa-qvsdc"]),
    amount=st.integers(0, 999_999_999_999),
    un=st.binary(min_size=4, max_size=4),
    country=st.sampled_from(["0826", "0840", "0978"]),
    tvr=st.binary(min_size=5, max_size=5),
)
def test_cryptogram_property_any_terminal_data(
    name: str, amount: int, un: bytes, country: str, tvr: bytes
) -> None:
    profile = load_profile(name)
    app = profile.applications[0]
    card = VirtualCard(profile)
    values = {
        "9F02": bytes.fromhex(f"{amount:012d}"),
        "9F37": un,
        "9F1A": bytes.fromhex(country),
        "95": tvr,
    }
    txn = select_and_read(card, **values)
    if app.kernel == "qvsdc":
        flat = tlv_flat(txn.gpo)
        aip, atc, iad, ac = flat["82"], flat["9F36"], flat["9F10"], flat["9F26"]
    else:
        body, sw, _ = generate_ac(txn, 0x80)
        assert sw == 0x9000
        flat = tlv_flat(body) if body[0] == 0x77 else {}
        if body[0] == 0x80:
            value = tlv_items(body)[0][1]
            atc, ac, iad = value[1:3], value[3:11], value[11:]
        else:
            atc, ac, iad = flat["9F36"], flat["9F26"], flat["9F10"]
        aip = txn.aip
    mk = icc_mk_option_a(app.issuer_keys.ac, app.pan, app.psn)
    assert ac == _independent_ac(app.cryptogram, mk, txn.terminal, aip, atc, iad)
    assert ac == _pyemv_ac(app.cryptogram, app, txn.terminal, aip, atc, iad)
