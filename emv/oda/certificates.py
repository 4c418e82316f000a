"""Certificate checks of EMV 4.4 Book 2: CA key lookup, issuer and ICC key recovery.

Each function runs the Book 2 steps in the book's order and returns the first
failure as a precise :class:`~emv.oda.results.OdaFailure`. A bad card never
raises; only programmer errors (wrong argument types/sizes) do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from emv.config import CaPublicKey
from emv.oda.results import KeyResult, OdaFailure, PublicKey
from emv.oda.rsa import recover_block

FORMAT_ISSUER = 0x02  # Book 2, Table 6 / 13
FORMAT_ICC = 0x04  # Book 2, Table 14 (also ICC PIN encipherment key, 7.1)
HASH_SHA1 = 0x01  # Book 2, Annex B3
ALGORITHM_RSA = 0x01  # Book 2, Annex B2
HASH_LENGTH = 20

Revocation = Callable[[bytes, int, bytes], bool]


def sha1(*parts: bytes) -> bytes:
    digest = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        digest.update(part)
    return digest.digest()


# EMV 4.4 Book 2, 5.2 / 6.2 Retrieval of Certification Authority Public Key
def find_ca_key(
    keys: Iterable[CaPublicKey], rid: bytes, index: int, today: dt.date
) -> tuple[PublicKey | None, OdaFailure | None]:
    """The terminal's CA key for (RID, index); a key past its expiry counts as missing."""
    for key in keys:
        if key.rid == rid and key.index == index:
            if key.expiry is not None and today > key.expiry:
                return None, OdaFailure.CA_KEY_EXPIRED
            return PublicKey(key.modulus, key.exponent), None
    return None, OdaFailure.CA_KEY_MISSING


def expiry_passed(mmyy: bytes, today: dt.date) -> OdaFailure | None:
    """Book 2 step 9: valid through the last day of month MM of year YY.

    YY is read as 20YY when below 50, else 19YY (Book 3, 10.4's convention).
    """
    text = mmyy.hex()
    if len(mmyy) != 2 or not text.isdigit():
        return OdaFailure.EXPIRY_INVALID
    month, year = int(text[:2]), int(text[2:])
    if not 1 <= month <= 12:
        return OdaFailure.EXPIRY_INVALID
    year += 2000 if year < 50 else 1900
    if (year, month) < (today.year, today.month):
        return OdaFailure.CERTIFICATE_EXPIRED
    return None


def issuer_identifier_matches(identifier: bytes, pan: bytes) -> bool:
    """Book 2, 5.3 step 8: leftmost 3-8 PAN digits, right-padded with 'F'."""
    digits = identifier.hex().upper()
    stem = digits.rstrip("F")
    if not 3 <= len(stem) <= 8 or not stem.isdigit():
        return False
    return pan.hex().upper().startswith(stem)


def pan_matches(recovered: bytes, pan: bytes) -> bool:
    """Book 2, 6.4 step 8: the 'F'-padded recovered PAN equals the application PAN."""
    ours = pan.hex().upper().rstrip("F")
    theirs = recovered.hex().upper().rstrip("F")
    return bool(ours) and ours == theirs and len(pan) <= len(recovered)


def _assemble_modulus(
    leftmost: bytes, key_length: int, remainder: bytes | None
) -> bytes | OdaFailure:
    # step 12 (issuer) / step 11 (ICC): leftmost digits then remainder
    if key_length <= len(leftmost):
        if key_length < 64 // 8:
            return OdaFailure.KEY_LENGTH
        return leftmost[:key_length]
    if not remainder:
        return OdaFailure.REMAINDER_MISSING
    if len(leftmost) + len(remainder) != key_length:
        return OdaFailure.REMAINDER_LENGTH
    return leftmost + remainder


def _key_from_fields(fields: _Fields, remainder: bytes | None, exponent: bytes) -> KeyResult:
    # issuer steps 11-12 / ICC steps 10-11: algorithm, then the modulus itself
    key_algorithm, key_length, exponent_length = fields.lengths
    serial, expiry = fields.serial, fields.expiry
    if key_algorithm != ALGORITHM_RSA:
        return KeyResult.failed(OdaFailure.KEY_ALGORITHM, serial, expiry)
    if exponent_length != len(exponent):
        return KeyResult.failed(OdaFailure.EXPONENT_LENGTH, serial, expiry)
    modulus = _assemble_modulus(fields.leftmost, key_length, remainder)
    if isinstance(modulus, OdaFailure):
        return KeyResult.failed(modulus, serial, expiry)
    return KeyResult(PublicKey(modulus, exponent), None, serial, expiry)


@dataclass(frozen=True, slots=True, repr=False)
class _Fields:
    """Tables 6/13 and 14 share one layout; only the identity field's length differs."""

    identity: bytes  # issuer identifier (4) or application PAN (10)
    expiry: bytes
    serial: bytes
    hash_algorithm: int
    lengths: tuple[int, int, int]  # key algorithm, key length, exponent length
    leftmost: bytes
    hash_result: bytes
    signed_part: bytes  # certificate format .. leftmost digits (hash input start)

    @classmethod
    def parse(cls, recovered: bytes, identity_length: int) -> _Fields:
        n = len(recovered)
        i = 2 + identity_length
        return cls(
            identity=recovered[2:i],
            expiry=recovered[i : i + 2],
            serial=recovered[i + 2 : i + 5],
            hash_algorithm=recovered[i + 5],
            lengths=(recovered[i + 6], recovered[i + 7], recovered[i + 8]),
            leftmost=recovered[i + 9 : n - 21],
            hash_result=recovered[n - 21 : n - 1],
            signed_part=recovered[1 : n - 21],
        )


def _check_certificate(
    recovered: bytes | OdaFailure,
    identity_length: int,
    hashed_tail: tuple[bytes, ...],
    identity_ok: Callable[[bytes], bool],
    identity_failure: OdaFailure,
    today: dt.date,
) -> _Fields | KeyResult:
    # steps 2-9 shared by issuer (5.3 / 6.3) and ICC (6.4) certificates
    if isinstance(recovered, OdaFailure):
        return KeyResult.failed(recovered)
    fields = _Fields.parse(recovered, identity_length)
    if fields.hash_algorithm != HASH_SHA1:
        return KeyResult.failed(OdaFailure.HASH_ALGORITHM, fields.serial, fields.expiry)
    if fields.hash_result != sha1(fields.signed_part, *hashed_tail):
        return KeyResult.failed(OdaFailure.HASH_MISMATCH, fields.serial, fields.expiry)
    if not identity_ok(fields.identity):
        return KeyResult.failed(identity_failure, fields.serial, fields.expiry)
    expired = expiry_passed(fields.expiry, today)
    if expired is not None:
        return KeyResult.failed(expired, fields.serial, fields.expiry)
    return fields


# EMV 4.4 Book 2, 5.3 / 6.3 Retrieval of Issuer Public Key (Table 6 / Table 13)
def recover_issuer_key(
    certificate: bytes,
    ca_key: PublicKey,
    *,
    exponent: bytes,
    remainder: bytes | None,
    pan: bytes,
    today: dt.date,
    rid: bytes,
    ca_index: int,
    revoked: Revocation | None = None,
) -> KeyResult:
    """Recover and check the Issuer Public Key from certificate '90'."""
    checked = _check_certificate(
        recover_block(certificate, ca_key, FORMAT_ISSUER),
        4,
        (remainder or b"", exponent),
        lambda identifier: issuer_identifier_matches(identifier, pan),
        OdaFailure.ISSUER_ID_MISMATCH,
        today,
    )
    if isinstance(checked, KeyResult):
        return checked
    # step 10: (RID, CA index, serial) on the certificate revocation list
    if revoked is not None and revoked(rid, ca_index, checked.serial):
        return KeyResult.failed(OdaFailure.REVOKED, checked.serial, checked.expiry)
    return _key_from_fields(checked, remainder, exponent)


# EMV 4.4 Book 2, 6.4 Retrieval of ICC Public Key (Table 14); 7.1 for the PIN key
def recover_icc_key(
    certificate: bytes,
    issuer_key: PublicKey,
    *,
    exponent: bytes,
    remainder: bytes | None,
    pan: bytes,
    today: dt.date,
    static_data: bytes | None,
) -> KeyResult:
    """Recover and check an ICC key from '9F46' (or the PIN key from '9F2D').

    ``static_data`` is the Book 3, 10.3 static data to be authenticated; pass
    ``None`` for the ICC PIN Encipherment Public Key, whose hash omits it
    (Book 2, 7.1 footnote 31).
    """
    checked = _check_certificate(
        recover_block(certificate, issuer_key, FORMAT_ICC),
        10,
        (remainder or b"", exponent, static_data or b""),
        lambda recovered_pan: pan_matches(recovered_pan, pan),
        OdaFailure.PAN_MISMATCH,
        today,
    )
    if isinstance(checked, KeyResult):
        return checked
    return _key_from_fields(checked, remainder, exponent)
