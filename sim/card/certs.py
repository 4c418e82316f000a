"""EMV Book 2 certificates and signatures, built by the card's issuer side.

Each builder returns the signed block and any modulus remainder. The recovered
layout is the one a terminal checks, field by field, in Book 2 Tables 6, 7,
14 and 17 (issuer certificate, signed static data, ICC certificate, signed
dynamic data); the hash is SHA-1 (hash algorithm indicator '01').
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sim.card.rsa_keys import RsaKey
from sim.errors import SimError

HEADER = 0x6A
TRAILER = 0xBC
PAD = 0xBB
SHA1 = 0x01
RSA_ALGORITHM = 0x01

FORMAT_ISSUER = 0x02
FORMAT_SSAD = 0x03
FORMAT_ICC = 0x04
FORMAT_SDAD = 0x05


class CertificateError(SimError):
    """A key does not fit the certificate that should carry it."""


@dataclass(frozen=True, slots=True)
class Certificate:
    """A signed certificate and the part of the key that did not fit in it."""

    signed: bytes
    remainder: bytes
    exponent: bytes


def _sign(signer: RsaKey, body: bytes, hash_input: bytes, *, corrupt: bool) -> bytes:
    digest = hashlib.sha1(hash_input).digest()  # noqa: S324 - Book 2 mandates SHA-1
    if corrupt:  # fault: a signature whose hash does not match its contents
        digest = bytes([digest[0] ^ 0xFF]) + digest[1:]
    block = bytes([HEADER]) + body + digest + bytes([TRAILER])
    if len(block) != signer.size:
        raise CertificateError(f"signed block is {len(block)} bytes, key is {signer.size}")
    return signer.sign_raw(block)


def _split_key(key: RsaKey, room: int) -> tuple[bytes, bytes]:
    modulus = key.modulus_bytes
    if len(modulus) <= room:
        return modulus + bytes([PAD]) * (room - len(modulus)), b""
    return modulus[:room], modulus[room:]


def issuer_certificate(
    ca: RsaKey,
    issuer: RsaKey,
    *,
    issuer_identifier: bytes,
    expiry_mmyy: bytes,
    serial: bytes,
    corrupt: bool = False,
) -> Certificate:
    """Issuer Public Key Certificate (tag 90, remainder 92, exponent 9F32)."""
    # EMV 4.4 Book 2, 5.3 Table 6: format '02' recovered from the CA's signature
    if issuer.size > ca.size:
        raise CertificateError("issuer key longer than the CA key")
    leftmost, remainder = _split_key(issuer, ca.size - 36)
    body = (
        bytes([FORMAT_ISSUER])
        + issuer_identifier
        + expiry_mmyy
        + serial
        + bytes([SHA1, RSA_ALGORITHM, issuer.size, len(issuer.exponent_bytes)])
        + leftmost
    )
    signed = _sign(ca, body, body + remainder + issuer.exponent_bytes, corrupt=corrupt)
    return Certificate(signed, remainder, issuer.exponent_bytes)


def icc_certificate(
    issuer: RsaKey,
    icc: RsaKey,
    *,
    pan: bytes,
    expiry_mmyy: bytes,
    serial: bytes,
    static_data: bytes | None,
    corrupt: bool = False,
) -> Certificate:
    """ICC Public Key Certificate (9F46/9F48/9F47) or, with ``static_data`` None,
    the ICC PIN Encipherment Public Key Certificate (9F2D/9F2F/9F2E)."""
    # EMV 4.4 Book 2, 6.4 Table 14 (and 7.1 for the PIN key, which signs no static data)
    if icc.size > issuer.size:
        raise CertificateError("ICC key longer than the issuer key")
    leftmost, remainder = _split_key(icc, issuer.size - 42)
    pan_field = pan + b"\xff" * (10 - len(pan))
    body = (
        bytes([FORMAT_ICC])
        + pan_field
        + expiry_mmyy
        + serial
        + bytes([SHA1, RSA_ALGORITHM, icc.size, len(icc.exponent_bytes)])
        + leftmost
    )
    hash_input = body + remainder + icc.exponent_bytes + (static_data or b"")
    signed = _sign(issuer, body, hash_input, corrupt=corrupt)
    return Certificate(signed, remainder, icc.exponent_bytes)


def signed_static_data(
    issuer: RsaKey, *, dac: bytes, static_data: bytes, corrupt: bool = False
) -> bytes:
    """Signed Static Application Data (tag 93) for SDA."""
    # EMV 4.4 Book 2, 5.4 Table 7: format '03', Data Authentication Code, 'BB' pad
    body = bytes([FORMAT_SSAD, SHA1]) + dac + bytes([PAD]) * (issuer.size - 26)
    return _sign(issuer, body, body + static_data, corrupt=corrupt)


def signed_dynamic_data(
    icc: RsaKey, *, icc_dynamic_data: bytes, terminal_data: bytes, corrupt: bool = False
) -> bytes:
    """Signed Dynamic Application Data (tag 9F4B) for DDA, CDA and fDDA."""
    # EMV 4.4 Book 2, 6.5.1 Table 17: format '05', ICC Dynamic Data, 'BB' pad
    room = icc.size - len(icc_dynamic_data) - 25
    if room < 0:
        raise CertificateError("ICC dynamic data too long for the ICC key")
    body = (
        bytes([FORMAT_SDAD, SHA1, len(icc_dynamic_data)]) + icc_dynamic_data + bytes([PAD]) * room
    )
    return _sign(icc, body, body + terminal_data, corrupt=corrupt)
