"""The RSA recovery function of EMV 4.4 Book 2, Annex A2.1 / B2.1.

The terminal only ever uses public keys: it "recovers" a message from a
signature, or (Book 2, 7.2) enciphers a PIN block, both as ``x^e mod n``.
"""

from __future__ import annotations

from emv.oda.results import OdaFailure, PublicKey

HEADER = 0x6A
TRAILER = 0xBC


def public_operation(data: bytes, key: PublicKey) -> bytes:
    """``data^e mod n`` as bytes of the modulus length (Book 2, B2.1.3).

    The caller checks ``len(data) == len(key.modulus)`` first (that is step 1
    of every Book 2 recovery, with its own failure reason).
    """
    modulus = int.from_bytes(key.modulus, "big")
    if modulus == 0:
        raise ValueError("RSA modulus is zero")
    value = pow(int.from_bytes(data, "big"), int.from_bytes(key.exponent, "big"), modulus)
    return value.to_bytes(len(key.modulus), "big")


def recover_block(signed: bytes, key: PublicKey, expected_format: int) -> bytes | OdaFailure:
    """Steps 1-4 shared by every Book 2 recovery (5.3, 5.4, 6.3, 6.4, 6.5.2, 6.6.2).

    Length equal to the key's modulus, trailer 'BC', header '6A', then the
    certificate or signed-data format byte.
    """
    if len(signed) != len(key.modulus):
        return OdaFailure.LENGTH_MISMATCH
    recovered = public_operation(signed, key)
    if recovered[-1] != TRAILER:
        return OdaFailure.TRAILER
    if recovered[0] != HEADER:
        return OdaFailure.HEADER
    if recovered[1] != expected_format:
        return OdaFailure.FORMAT
    return recovered
