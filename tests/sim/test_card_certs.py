"""The RSA chain of every ODA profile, recovered with plain integer RSA from the
published CA public keys file and checked field by field against EMV 4.4 Book 2
(5.3 issuer certificate, 5.4 signed static data, 6.4 ICC certificate, 6.5 DDA,
6.6 CDA, 7 PIN encipherment)."""

from __future__ import annotations

import pytest

from sim.card import Faults, VirtualCard, list_profiles, load_profile
from tests.sim.test_card_kit import (
    apdu,
    ca_keys,
    generate_ac,
    recover_icc,
    recover_issuer,
    recover_sdad,
    revoked,
    rsa_recover,
    select_and_read,
    sha1,
    tlv_flat,
    tlv_items,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _profiles(*methods: str) -> list[str]:
    return [
        n
        for n in list_profiles()
        if load_profile(n).has_chip
        and load_profile(n).applications[0].oda in methods
        and not load_profile(n).faults.changes_image
        and not load_profile(n).faults.delay
    ]


def test_ca_public_keys_file_has_both_rids_and_book2_sizes() -> None:
    keys = ca_keys()
    assert {rid for rid, _ in keys} == {"A000000003", "A000000004"}
    for modulus, exponent in keys.values():
        assert 1152 <= modulus.bit_length() <= 1984
        assert exponent in (3, 65537)


@pytest.mark.parametrize("name", _profiles("sda", "dda", "cda", "fdda"))
def test_issuer_certificate_fields(name: str) -> None:
    txn = select_and_read(VirtualCard(load_profile(name)))
    chain = recover_issuer(txn)
    assert chain.issuer is not None
    expiry = chain.issuer_fields["expiry"]
    assert 1 <= int(expiry[:1].hex()) <= 12
    assert expiry == bytes.fromhex("1230")
    rid = txn.aid[:5].hex().upper()
    serial = chain.issuer_fields["serial"].hex().upper()
    assert (rid, txn.data["8F"].hex().upper(), serial) not in revoked()


@pytest.mark.parametrize("name", _profiles("sda"))
def test_signed_static_application_data(name: str) -> None:
    txn = select_and_read(VirtualCard(load_profile(name)))
    chain = recover_issuer(txn)
    assert chain.issuer is not None
    x = rsa_recover(txn.data["93"], *chain.issuer)
    size = len(x)
    assert x[0] == 0x6A and x[1] == 0x03 and x[2] == 0x01 and x[-1] == 0xBC
    assert x[3:5] == bytes.fromhex("DAC1"), "Data Authentication Code"
    assert set(x[5 : size - 21]) == {0xBB}
    assert sha1(x[1 : size - 21] + txn.static_data()) == x[size - 21 : size - 1]
    assert txn.data["9F4A"] == b"\x82"


@pytest.mark.parametrize("name", _profiles("dda", "cda"))
def test_icc_certificate_and_dda_signature(name: str) -> None:
    txn = select_and_read(VirtualCard(load_profile(name)))
    chain = recover_issuer(txn)
    icc = recover_icc(txn, chain)
    assert chain.icc_fields["expiry"] == bytes.fromhex("1230")
    ddol = txn.data.get("9F49", bytes.fromhex("9F3704"))
    assert ddol == bytes.fromhex("9F3704")
    un = bytes.fromhex("CAFEBABE")
    body, sw = txn.send(apdu("00880000", un))
    if not txn.aip[0] & 0x20:  # CDA-only card: no DDA offered
        assert sw == 0x6985
        return
    assert sw == 0x9000
    tag, value = tlv_items(body)[0]
    sdad = value if tag == "80" else tlv_flat(body)["9F4B"]
    dynamic = recover_sdad(sdad, icc, un)
    assert 2 <= dynamic[0] <= 8 and len(dynamic) == 1 + dynamic[0]
    other, _ = txn.send(apdu("00880000", un))
    assert other != body, "a fresh ICC dynamic number each time"


@pytest.mark.parametrize("name", _profiles("cda"))
@pytest.mark.parametrize("second", [False, True])
def test_cda_signature_and_transaction_data_hash(name: str, second: bool) -> None:
    profile = load_profile(name)
    app = profile.applications[0]
    card = VirtualCard(profile)
    txn = select_and_read(card)
    chain = recover_issuer(txn)
    icc = recover_icc(txn, chain)
    body, sw, cdol1 = generate_ac(txn, 0x90)
    assert sw == 0x9000
    hashed_extra = b""
    if second:
        from pyemv import cvn

        keys = app.issuer_keys
        cls = {
            "visa-cvn18": cvn.VisaCVN18,
            "visa-cvn10": cvn.VisaCVN10,
            "mc-cvn16": cvn.MasterCardCVN16,
        }
        ref = cls[app.cryptogram](keys.ac, keys.smi, keys.smc, app.pan, app.psn)
        flat = tlv_flat(body)
        arqc = recover_sdad(flat["9F4B"], icc, txn.terminal["9F37"])
        arqc = arqc[1 + arqc[0] + 1 : 1 + arqc[0] + 9]
        if app.cryptogram == "visa-cvn18":
            auth = ref.generate_arpc(arqc, flat["9F36"], b"\x00" * 4) + b"\x00" * 4
        else:
            auth = ref.generate_arpc(arqc, b"00") + b"00"
        body, sw, cdol2 = generate_ac(txn, 0x50, "8D", **{"91": auth})
        assert sw == 0x9000
        hashed_extra = cdol2
    items = tlv_items(tlv_items(body)[0][1])
    assert [t for t, _ in items] == ["9F27", "9F36", "9F4B", "9F10"]
    flat = dict(items)
    dynamic = recover_sdad(flat["9F4B"], icc, txn.terminal["9F37"])
    n = dynamic[0]
    cid, ac, tdhc = dynamic[1 + n], dynamic[2 + n : 10 + n], dynamic[10 + n : 30 + n]
    assert len(dynamic) == 30 + n
    assert cid == flat["9F27"][0] == (0x40 if second else 0x80)
    assert len(ac) == 8
    response_tlvs = b"".join(
        bytes.fromhex(t) + bytes([len(v)]) + v for t, v in items if t != "9F4B"
    )
    expected = sha1(txn.pdol_data + cdol1 + hashed_extra + response_tlvs)
    assert tdhc == expected, "Transaction Data Hash Code (Book 2, 6.6.1)"


def test_cda_not_given_with_an_aac() -> None:
    txn = select_and_read(VirtualCard(load_profile("visa-cda")))
    body, sw, _ = generate_ac(txn, 0x10)
    assert sw == 0x9000
    flat = tlv_flat(body)
    assert flat["9F27"] == b"\x00" and "9F26" in flat and "9F4B" not in flat


def test_enciphered_pin_with_pin_encipherment_key() -> None:
    """EMV 4.4 Book 2, 7.1-7.2: 7F || PIN block || ICC challenge || random pad, enciphered."""
    card = VirtualCard(load_profile("visa-cda"))
    txn = select_and_read(card)
    chain = recover_issuer(txn)
    pin_key = recover_icc(txn, chain, pin_key=True)
    _check_enciphered_pin(txn, pin_key, "1234")


def test_enciphered_pin_with_icc_key() -> None:
    card = VirtualCard(load_profile("mc-enc-pin"))
    txn = select_and_read(card)
    assert "9F2D" not in txn.data
    icc = recover_icc(txn, recover_issuer(txn))
    _check_enciphered_pin(txn, icc, "4321")


def _check_enciphered_pin(txn, key: tuple[int, int], pin: str) -> None:  # type: ignore[no-untyped-def]
    modulus, exponent = key
    size = (modulus.bit_length() + 7) // 8

    def encipher(pin_text: str, challenge: bytes) -> bytes:
        block = bytes.fromhex(f"2{len(pin_text):X}{pin_text}".ljust(16, "F"))
        plain = b"\x7f" + block + challenge + b"\x55" * (size - 17)
        return pow(int.from_bytes(plain, "big"), exponent, modulus).to_bytes(size, "big")

    challenge, sw = txn.send("0084000000")
    assert sw == 0x9000 and len(challenge) == 8
    _, sw = txn.send(apdu("00200088", encipher("0000", challenge), le=False))
    assert sw == 0x63C2
    _, sw = txn.send(apdu("00200088", encipher(pin, challenge), le=False))
    assert sw == 0x6985, "a challenge is good for one VERIFY only"
    challenge, _ = txn.send("0084000000")
    _, sw = txn.send(apdu("00200088", encipher(pin, b"\x00" * 8), le=False))
    assert sw == 0x6A80, "wrong challenge"
    challenge, _ = txn.send("0084000000")
    _, sw = txn.send(apdu("00200088", encipher(pin, challenge), le=False))
    assert sw == 0x9000
    value, _ = txn.send("80CA9F1700")
    assert value[-1] == 3


@pytest.mark.parametrize(
    ("fault", "broken"),
    [("issuer_cert", "issuer"), ("icc_cert", "icc"), ("sdad", "sdad")],
)
def test_bad_signature_faults_fail_recovery(fault: str, broken: str) -> None:
    card = VirtualCard(
        load_profile("visa-offline-pin"), faults=Faults(bad_signatures=frozenset({fault}))
    )
    txn = select_and_read(card)
    if broken == "issuer":
        with pytest.raises(AssertionError, match="issuer certificate hash"):
            recover_issuer(txn)
        return
    chain = recover_issuer(txn)
    if broken == "icc":
        with pytest.raises(AssertionError, match="ICC cert hash"):
            recover_icc(txn, chain)
        return
    icc = recover_icc(txn, chain)
    body, _ = txn.send(apdu("00880000", b"\x01\x02\x03\x04"))
    with pytest.raises(AssertionError, match="SDAD hash"):
        recover_sdad(tlv_items(body)[0][1], icc, b"\x01\x02\x03\x04")


def test_bad_sda_profile_fails_ssad_hash() -> None:
    txn = select_and_read(VirtualCard(load_profile("visa-bad-sda")))
    chain = recover_issuer(txn)
    assert chain.issuer is not None
    x = rsa_recover(txn.data["93"], *chain.issuer)
    size = len(x)
    assert x[1] == 0x03
    assert sha1(x[1 : size - 21] + txn.static_data()) != x[size - 21 : size - 1]


def test_revoked_and_expired_certificate_profile() -> None:
    txn = select_and_read(VirtualCard(load_profile("visa-revoked-cert")))
    chain = recover_issuer(txn)
    rid = txn.aid[:5].hex().upper()
    key = (rid, txn.data["8F"].hex().upper(), chain.issuer_fields["serial"].hex().upper())
    assert key in revoked()
    recover_icc(txn, chain)
    assert chain.icc_fields["expiry"] == bytes.fromhex("1221"), "expired December 2021"


@pytest.mark.parametrize("name", ["ca-visa-f1", "issuer-1984", "icc-768", "pin-768"])
def test_crt_private_operation_matches_plain_rsa(name: str) -> None:
    import dataclasses

    from sim.card.rsa_keys import get_key

    key = get_key(name)
    assert key.p * key.q == key.modulus
    plain = dataclasses.replace(key, p=0, q=0)
    block = bytes([0x6A]) + bytes(range(key.size - 2)) + b"\xbc"
    block = block[: key.size]
    assert key.sign_raw(block) == plain.sign_raw(block)
    assert key.recover(key.sign_raw(block)) == block
    assert "private" not in repr(key) and str(key.p) not in repr(key)


def test_published_ca_public_keys_match_the_signing_keys() -> None:
    from sim.card.rsa_keys import ca_key

    for (rid, index), (modulus, exponent) in ca_keys().items():
        key = ca_key(rid, index)
        assert (key.modulus, key.exponent) == (modulus, exponent)
        block = b"\x6a" + b"\x11" * (key.size - 2) + b"\xbc"
        assert rsa_recover(key.sign_raw(block), modulus, exponent) == block


def test_qvsdc_fdda_signature() -> None:
    """fDDA v01: SDAD over 9F37 || 9F02 || 5F2A || 9F69, with the ICC key from 9F46."""
    txn = select_and_read(VirtualCard(load_profile("visa-qvsdc")))
    flat = tlv_flat(txn.gpo)
    assert txn.aip[0] & 0x20
    auth = flat["9F69"]
    assert auth[0] == 0x01 and len(auth) == 7 and auth[5:7] == flat["9F6C"]
    icc = recover_icc(txn, recover_issuer(txn))
    terminal = txn.terminal["9F37"] + txn.terminal["9F02"] + txn.terminal["5F2A"] + auth
    dynamic = recover_sdad(flat["9F4B"], icc, terminal)
    assert dynamic[0] == len(dynamic) - 1
    with pytest.raises(AssertionError, match="SDAD hash"):
        recover_sdad(flat["9F4B"], icc, b"\x00" * 4 + terminal[4:])
