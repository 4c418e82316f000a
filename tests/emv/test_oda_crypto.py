"""Book 2 certificate and signature checks, each broken on its own.

The chain is built in tests/emv/oda_chain.py straight from EMV 4.4 Book 2
Tables 2/6 (issuer certificate), 11/14 (ICC certificate), 3/7 (signed static
data), 15/17 (signed dynamic data) and 18/19/22 (CDA).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from emv.config import CaPublicKey
from emv.oda.certificates import (
    expiry_passed,
    find_ca_key,
    issuer_identifier_matches,
    pan_matches,
    recover_icc_key,
    recover_issuer_key,
)
from emv.oda.pin_encipherment import encipher_pin_block, padding_length
from emv.oda.results import OdaFailure, PublicKey
from emv.oda.signatures import (
    top_level_objects,
    transaction_data_hash,
    verify_cda_signature,
    verify_dda,
    verify_sda,
)
from tests.emv import oda_chain as chain

PAN = bytes.fromhex("4761739001010010")
ISSUER_ID = bytes.fromhex("476173FF")
TODAY = dt.date(2026, 11, 25)
RID = bytes.fromhex("A000000003")
STATIC = b"\x5a\x08" + PAN + b"\x5f\x24\x03\x30\x12\x31" + b"\x58\x00"


def issuer(**fields: object) -> object:
    ca, iss = chain.ca_key(), chain.issuer_key()
    cert, remainder = chain.issuer_certificate(
        ca, iss, fields.pop("issuer_id", ISSUER_ID), **fields
    )  # type: ignore[arg-type]
    return cert, remainder


def recover_issuer(cert: bytes, remainder: bytes | None, **kw: object):  # type: ignore[no-untyped-def]
    args = dict(exponent=b"\x03", remainder=remainder, pan=PAN, today=TODAY, rid=RID, ca_index=0xF1)
    args.update(kw)
    return recover_issuer_key(cert, chain.ca_key().public, **args)  # type: ignore[arg-type]


def test_issuer_key_recovered_with_remainder() -> None:
    cert, remainder = issuer()
    assert remainder  # N_I > N_CA - 36 on purpose
    result = recover_issuer(cert, remainder)
    assert result.ok, result.failure
    assert result.key == chain.issuer_key().public
    assert result.serial == b"\x00\x00\x01"


def test_issuer_certificate_expiring_this_month_is_valid() -> None:
    cert, remainder = issuer(expiry=b"\x11\x26")
    assert recover_issuer(cert, remainder).ok


def test_issuer_certificate_wrong_length_and_missing_remainder() -> None:
    cert, remainder = issuer()
    assert recover_issuer(cert[1:], remainder).failure is OdaFailure.LENGTH_MISMATCH
    # the remainder is hashed, so leaving it out breaks the hash first
    assert recover_issuer(cert, None).failure is OdaFailure.HASH_MISMATCH


def test_issuer_certificate_revoked() -> None:
    cert, remainder = issuer(serial=b"\x12\x34\x56")
    revoked = {(RID, 0xF1, b"\x12\x34\x56")}
    result = recover_issuer(cert, remainder, revoked=lambda r, i, s: (r, i, s) in revoked)
    assert result.failure is OdaFailure.REVOKED
    other = recover_issuer(cert, remainder, revoked=lambda r, i, s: False)
    assert other.ok


def test_issuer_wrong_ca_key_fails_trailer_or_header() -> None:
    cert, remainder = issuer()
    wrong = PublicKey(chain.key(1408, 65537).modulus_bytes, b"\x01\x00\x01")
    result = recover_issuer_key(
        cert,
        wrong,
        exponent=b"\x03",
        remainder=remainder,
        pan=PAN,
        today=TODAY,
        rid=RID,
        ca_index=1,
    )
    assert result.failure in (OdaFailure.TRAILER, OdaFailure.HEADER, OdaFailure.FORMAT)


def icc(static: bytes | None = STATIC, **fields: object) -> tuple[bytes, bytes]:
    return chain.icc_certificate(chain.issuer_key(), chain.icc_key(), PAN, static, **fields)  # type: ignore[arg-type]


def recover_icc(cert: bytes, remainder: bytes | None, static: bytes | None = STATIC, **kw: object):  # type: ignore[no-untyped-def]
    args = dict(
        exponent=b"\x01\x00\x01", remainder=remainder, pan=PAN, today=TODAY, static_data=static
    )
    args.update(kw)
    return recover_icc_key(cert, chain.issuer_key().public, **args)  # type: ignore[arg-type]


def test_icc_key_recovered() -> None:
    cert, remainder = icc()
    result = recover_icc(cert, remainder)
    assert result.ok, result.failure
    assert result.key == chain.icc_key().public


def test_icc_certificate_static_data_is_signed() -> None:
    cert, remainder = icc()
    assert recover_icc(cert, remainder, STATIC + b"\x00").failure is OdaFailure.HASH_MISMATCH
    assert recover_icc(cert[:-1], remainder).failure is OdaFailure.LENGTH_MISMATCH
    assert recover_icc(cert, remainder[:-1]).failure is OdaFailure.HASH_MISMATCH


def test_pin_key_certificate_omits_static_data() -> None:
    """Book 2, 7.1 footnote 31: the PIN key certificate hash has no static data."""
    cert, remainder = chain.icc_certificate(chain.issuer_key(), chain.pin_key(), PAN, None)
    result = recover_icc_key(
        cert,
        chain.issuer_key().public,
        exponent=b"\x03",
        remainder=remainder or None,
        pan=PAN,
        today=TODAY,
        static_data=None,
    )
    assert result.ok and result.key == chain.pin_key().public


@pytest.mark.parametrize(
    ("identifier", "pan", "ok"),
    [
        ("476FFFFF", "4761739001010010", True),
        ("47617390", "4761739001010010", True),
        ("47FFFFFF", "4761739001010010", False),  # fewer than 3 digits
        ("4F6FFFFF", "4761739001010010", False),  # F inside the digits
        ("543FFFFF", "4761739001010010", False),
    ],
)
def test_issuer_identifier(identifier: str, pan: str, ok: bool) -> None:
    assert issuer_identifier_matches(bytes.fromhex(identifier), bytes.fromhex(pan)) is ok


def test_pan_matching_with_padding() -> None:
    odd = bytes.fromhex("476173900101001F")
    assert pan_matches(bytes.fromhex("476173900101001FFFFF"), odd)
    assert not pan_matches(bytes.fromhex("4761739001010010FFFF"), odd)


@pytest.mark.parametrize(
    ("mmyy", "failure"),
    [
        ("1126", None),
        ("1026", OdaFailure.CERTIFICATE_EXPIRED),
        ("0149", None),
        ("1299", OdaFailure.CERTIFICATE_EXPIRED),
        ("0026", OdaFailure.EXPIRY_INVALID),
        ("1A26", OdaFailure.EXPIRY_INVALID),
    ],
)
def test_expiry(mmyy: str, failure: OdaFailure | None) -> None:
    assert expiry_passed(bytes.fromhex(mmyy), TODAY) is failure


def test_find_ca_key_expiry_and_absence() -> None:
    keys = [
        CaPublicKey(RID, 0xF1, b"\x99" * 8, b"\x03", dt.date(2026, 11, 25)),
        CaPublicKey(RID, 0xF2, b"\x99" * 8, b"\x03", dt.date(2026, 11, 24)),
    ]
    assert find_ca_key(keys, RID, 0xF1, TODAY)[1] is None
    assert find_ca_key(keys, RID, 0xF2, TODAY) == (None, OdaFailure.CA_KEY_EXPIRED)
    assert find_ca_key(keys, RID, 0xF3, TODAY) == (None, OdaFailure.CA_KEY_MISSING)


def test_sda_verifies_and_returns_dac() -> None:
    ssad = chain.signed_static_data(chain.issuer_key(), STATIC)
    result = verify_sda(ssad, chain.issuer_key().public, STATIC)
    assert result.ok and result.data_authentication_code == b"\xda\xc1"


def test_sda_length_and_data_change() -> None:
    ssad = chain.signed_static_data(chain.issuer_key(), STATIC)
    assert (
        verify_sda(ssad + b"\x00", chain.issuer_key().public, STATIC).failure
        is OdaFailure.LENGTH_MISMATCH
    )
    assert (
        verify_sda(ssad, chain.issuer_key().public, STATIC[:-1]).failure is OdaFailure.HASH_MISMATCH
    )


DDOL_DATA = bytes.fromhex("11223344")


def test_dda_verifies_and_returns_dynamic_number() -> None:
    sdad = chain.signed_dynamic_data(chain.icc_key(), b"\x01\x02\x03\x04", DDOL_DATA)
    result = verify_dda(sdad, chain.icc_key().public, DDOL_DATA)
    assert result.ok and result.icc_dynamic_number == b"\x01\x02\x03\x04"
    assert "01020304" not in repr(result)


def test_dda_other_terminal_data_fails() -> None:
    sdad = chain.signed_dynamic_data(chain.icc_key(), b"\x01\x02", DDOL_DATA)
    assert (
        verify_dda(sdad, chain.icc_key().public, b"\x11\x22\x33\x45").failure
        is OdaFailure.HASH_MISMATCH
    )
    bad_number = chain.signed_dynamic_data(chain.icc_key(), b"\x01", DDOL_DATA)
    assert (
        verify_dda(bad_number, chain.icc_key().public, DDOL_DATA).failure
        is OdaFailure.DYNAMIC_NUMBER
    )


UN = bytes.fromhex("A1B2C3D4")
PDOL = bytes.fromhex("0826")
CDOL1 = bytes.fromhex("000000001000") + UN
AC = bytes.fromhex("1122334455667788")


def cda_response(cid: int = 0x80, **fields: object) -> tuple[bytes, bytes]:
    clear = bytes.fromhex("9F2701") + bytes([cid]) + bytes.fromhex("9F360200019F100706010A03A00000")
    tdhc = hashlib.sha1(PDOL + CDOL1 + clear).digest()
    sdad = chain.cda_signature(
        chain.icc_key(),
        b"\x05\x06\x07\x08",
        fields.pop("signed_cid", cid),
        AC,
        fields.pop("tdhc", tdhc),
        UN,
        **fields,
    )  # type: ignore[arg-type]
    sdad_tlv = b"\x9f\x4b\x81\x80" + sdad
    # SDAD placed between objects: the hash must skip it wherever it sits
    return clear[:4] + sdad_tlv + clear[4:], sdad


def check_cda(value: bytes, sdad: bytes, cid: int = 0x80, un: bytes = UN):  # type: ignore[no-untyped-def]
    return verify_cda_signature(
        sdad,
        chain.icc_key().public,
        unpredictable_number=un,
        response_cid=cid,
        transaction_hash=transaction_data_hash(PDOL, CDOL1, None, value),
    )


def test_cda_verifies() -> None:
    value, sdad = cda_response()
    result = check_cda(value, sdad)
    assert result.ok, result.failure
    assert (
        result.cryptogram == AC
        and result.cid == 0x80
        and result.icc_dynamic_number == b"\x05\x06\x07\x08"
    )


def test_cda_wrong_un_and_second_generate_ac_hash() -> None:
    value, sdad = cda_response()
    assert check_cda(value, sdad, un=b"\x00" * 4).failure is OdaFailure.HASH_MISMATCH
    # Book 2, 6.6.2 step 10: the second GENERATE AC adds CDOL2 values
    assert transaction_data_hash(PDOL, CDOL1, b"\x30\x30", value) != transaction_data_hash(
        PDOL, CDOL1, None, value
    )


def test_top_level_objects_keeps_raw_encodings() -> None:
    data = bytes.fromhex("9F270180") + bytes.fromhex("9F36820002ABCD") + b"\x00"
    assert list(top_level_objects(data)) == [
        (0x9F27, bytes.fromhex("9F270180")),
        (0x9F36, bytes.fromhex("9F36820002ABCD")),
    ]


def test_pin_encipherment_round_trip() -> None:
    """Book 2, 7.2 Table 25: the card's private key recovers 7F | block | challenge | pad."""
    key = chain.icc_key()
    block = bytes.fromhex("241234FFFFFFFFFF")
    challenge = bytes.fromhex("0102030405060708")
    pad = bytes(range(padding_length(key.public)))
    enciphered = encipher_pin_block(key.public, block, challenge, pad)
    assert len(enciphered) == key.size
    assert key.decrypt(enciphered) == b"\x7f" + block + challenge + pad
    with pytest.raises(ValueError):
        encipher_pin_block(key.public, block[:7], challenge, pad)


def outcome(kind: str, fields: dict[str, object]) -> OdaFailure | None:
    if kind == "issuer":
        cert, remainder = issuer(**fields)
        return recover_issuer(cert, remainder).failure
    if kind == "icc":
        cert, remainder = icc(**fields)
        return recover_icc(cert, remainder).failure
    if kind == "sda":
        ssad = chain.signed_static_data(chain.issuer_key(), STATIC, **fields)  # type: ignore[arg-type]
        return verify_sda(ssad, chain.issuer_key().public, STATIC).failure
    if kind == "dda":
        sdad = chain.signed_dynamic_data(chain.icc_key(), b"\x01\x02", DDOL_DATA, **fields)  # type: ignore[arg-type]
        return verify_dda(sdad, chain.icc_key().public, DDOL_DATA).failure
    value, sdad = cda_response(**fields)
    return check_cda(value, sdad).failure  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("kind", "fields", "failure"),
    [
        ("issuer", {"header": 0x6B}, OdaFailure.HEADER),
        ("issuer", {"trailer": 0xBD}, OdaFailure.TRAILER),
        ("issuer", {"format": 0x04}, OdaFailure.FORMAT),
        ("issuer", {"hash": bytes(20)}, OdaFailure.HASH_MISMATCH),
        ("issuer", {"hash_algorithm": 0x02}, OdaFailure.HASH_ALGORITHM),
        ("issuer", {"key_algorithm": 0x02}, OdaFailure.KEY_ALGORITHM),
        ("issuer", {"issuer_id": bytes.fromhex("476174FF")}, OdaFailure.ISSUER_ID_MISMATCH),
        ("issuer", {"issuer_id": bytes.fromhex("47FFFFFF")}, OdaFailure.ISSUER_ID_MISMATCH),
        ("issuer", {"expiry": b"\x10\x26"}, OdaFailure.CERTIFICATE_EXPIRED),
        ("issuer", {"expiry": b"\x13\x30"}, OdaFailure.EXPIRY_INVALID),
        ("issuer", {"exponent_length": 3}, OdaFailure.EXPONENT_LENGTH),
        ("issuer", {"key_length": 170}, OdaFailure.REMAINDER_LENGTH),
        ("icc", {"header": 0x00}, OdaFailure.HEADER),
        ("icc", {"trailer": 0x00}, OdaFailure.TRAILER),
        ("icc", {"format": 0x02}, OdaFailure.FORMAT),
        ("icc", {"hash": b"\x01" * 20}, OdaFailure.HASH_MISMATCH),
        ("icc", {"hash_algorithm": 0x00}, OdaFailure.HASH_ALGORITHM),
        ("icc", {"key_algorithm": 0x00}, OdaFailure.KEY_ALGORITHM),
        ("icc", {"recovered_pan": bytes.fromhex("4761739001010011FFFF")}, OdaFailure.PAN_MISMATCH),
        ("icc", {"expiry": b"\x12\x25"}, OdaFailure.CERTIFICATE_EXPIRED),
        ("icc", {"exponent_length": 1}, OdaFailure.EXPONENT_LENGTH),
        ("sda", {"header": 0x6B}, OdaFailure.HEADER),
        ("sda", {"trailer": 0xBB}, OdaFailure.TRAILER),
        ("sda", {"format": 0x05}, OdaFailure.FORMAT),
        ("sda", {"hash_algorithm": 0x02}, OdaFailure.HASH_ALGORITHM),
        ("sda", {"hash": bytes(20)}, OdaFailure.HASH_MISMATCH),
        ("dda", {"header": 0x00}, OdaFailure.HEADER),
        ("dda", {"trailer": 0x00}, OdaFailure.TRAILER),
        ("dda", {"format": 0x03}, OdaFailure.FORMAT),
        ("dda", {"hash": bytes(20)}, OdaFailure.HASH_MISMATCH),
        ("dda", {"dynamic_length": 200}, OdaFailure.DYNAMIC_DATA_LENGTH),
        ("cda", {"header": 0x00}, OdaFailure.HEADER),
        ("cda", {"trailer": 0x00}, OdaFailure.TRAILER),
        ("cda", {"format": 0x03}, OdaFailure.FORMAT),
        ("cda", {"hash": bytes(20)}, OdaFailure.HASH_MISMATCH),
        ("cda", {"signed_cid": 0x40}, OdaFailure.CID_MISMATCH),
        ("cda", {"tdhc": bytes(20)}, OdaFailure.TRANSACTION_DATA_HASH),
    ],
)
def test_each_book2_check_fails_alone(
    kind: str, fields: dict[str, object], failure: OdaFailure
) -> None:
    """EMV 4.4 Book 2, 5.3/6.3 (issuer), 6.4 (ICC), 5.4 (SDA), 6.5.2 (DDA), 6.6.2 (CDA):
    one broken field, one precise reason."""
    assert outcome(kind, fields) is failure


def test_rsa_public_operation_published_vector() -> None:
    """RSA textbook example (Rivest, Shamir, Adleman; as worked in Wikipedia
    "RSA (cryptosystem)", section Example): n = 61 * 53 = 3233, e = 17, m = 65 -> c = 2790."""
    from emv.oda.rsa import public_operation

    key = PublicKey((3233).to_bytes(2, "big"), bytes([17]))
    assert public_operation((65).to_bytes(2, "big"), key) == (2790).to_bytes(2, "big")


def test_sha1_published_vector() -> None:
    """FIPS 180-2 Appendix A.1: SHA-1("abc"), the hash algorithm indicator '01' of Book 2 B3."""
    from emv.oda.certificates import sha1

    assert sha1(b"a", b"bc").hex() == "a9993e364706816aba3e25717850c26c9cd0d89d"
