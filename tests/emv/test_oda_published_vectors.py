"""Published ODA vectors: Visa test CA key A000000003 #94 (1984-bit) with the issuer
certificate, signed static data and ICC certificate of the openemv/emv-utils test suite
(tests/emv_rsa_test.c). Data in tests/emv/data/visa_capk94_vectors.json.

The CA key's own checksum (SHA-1 over RID, index, modulus, exponent; Book 2, 11.2.2)
checks the transcription. The static data those signatures cover is not published, so
the signed static data and ICC certificate are checked field by field after recovery.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from emv.oda import recover_issuer_key
from emv.oda.results import OdaFailure, PublicKey
from emv.oda.rsa import recover_block

DATA = json.loads((Path(__file__).parent / "data/visa_capk94_vectors.json").read_text())
RID = bytes.fromhex("A000000003")
PAN = bytes.fromhex("4761739001010119")
TODAY = dt.date(2026, 11, 25)
CAPK = PublicKey(bytes.fromhex(DATA["capk_modulus"]), b"\x03")


def v(name: str) -> bytes:
    return bytes.fromhex(DATA[name])


def test_capk_checksum() -> None:
    digest = hashlib.sha1(RID + b"\x94" + CAPK.modulus + CAPK.exponent).digest()
    assert digest == v("capk_checksum")


def issuer():  # type: ignore[no-untyped-def]
    return recover_issuer_key(
        v("issuer_certificate"),
        CAPK,
        exponent=b"\x03",
        remainder=None,
        pan=PAN,
        today=TODAY,
        rid=RID,
        ca_index=0x94,
    )


def test_issuer_key_recovered_from_published_certificate() -> None:
    result = issuer()
    assert result.ok, result.failure
    assert result.key == PublicKey(v("issuer_modulus"), b"\x03")
    assert result.serial == bytes.fromhex("03DA0A") and result.expiry == bytes.fromhex("1231")


def test_published_certificate_rejected_when_altered_or_expired() -> None:
    broken = v("issuer_certificate")[:-1] + bytes([v("issuer_certificate")[-1] ^ 1])
    altered = recover_issuer_key(
        broken, CAPK, exponent=b"\x03", remainder=None, pan=PAN, today=TODAY, rid=RID, ca_index=0x94
    )
    assert altered.failure is not None
    late = recover_issuer_key(
        v("issuer_certificate"),
        CAPK,
        exponent=b"\x03",
        remainder=None,
        pan=PAN,
        today=dt.date(2032, 1, 1),
        rid=RID,
        ca_index=0x94,
    )
    assert late.failure is OdaFailure.CERTIFICATE_EXPIRED
    other_pan = recover_issuer_key(
        v("issuer_certificate"),
        CAPK,
        exponent=b"\x03",
        remainder=None,
        pan=bytes.fromhex("5413330089010012"),
        today=TODAY,
        rid=RID,
        ca_index=0x94,
    )
    assert other_pan.failure is OdaFailure.ISSUER_ID_MISMATCH


def test_published_signed_static_data_and_icc_certificate_fields() -> None:
    key = issuer().key
    assert key is not None
    ssad = recover_block(v("ssad"), key, 0x03)  # Book 2, Table 7
    assert isinstance(ssad, bytes)
    assert ssad[3:5] == bytes.fromhex("DAC0")  # Data Authentication Code
    assert ssad[-21:-1] == v("ssad_hash")
    cert = recover_block(v("icc_certificate"), key, 0x04)  # Book 2, Table 14
    assert isinstance(cert, bytes)
    assert cert[2:12] == bytes.fromhex("4761739001010119FFFF")
    assert cert[12:14] == bytes.fromhex("1222") and cert[14:17] == bytes.fromhex("000001")
    assert cert[19] == 176 and cert[20] == 1
    leftmost = cert[21 : 176 - 21]
    assert leftmost + v("icc_remainder") == v("icc_modulus")
    assert cert[-21:-1] == v("icc_hash")
