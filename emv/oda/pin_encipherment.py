"""Offline enciphered PIN, EMV 4.4 Book 2 section 7 (RSA).

The terminal enciphers '7F' | PIN block | ICC challenge | random padding with
the ICC PIN Encipherment Public Key ('9F2D'/'9F2E'/'9F2F') or, when the card
has none, the ICC Public Key. The random padding is supplied by the caller:
this package has no randomness of its own.
"""

from __future__ import annotations

from emv.oda.results import PublicKey
from emv.oda.rsa import public_operation

DATA_HEADER = 0x7F  # Book 2, Table 25
PIN_BLOCK_LENGTH = 8  # Book 3, 6.5.12
CHALLENGE_LENGTH = 8  # Book 2, 7.2 step 2


def padding_length(key: PublicKey) -> int:
    """Book 2, 7.2 step 3: N - 17 random bytes."""
    return len(key.modulus) - 17


# EMV 4.4 Book 2, 7.2 step 4 (Table 25)
def encipher_pin_block(
    key: PublicKey, pin_block: bytes, icc_challenge: bytes, random_padding: bytes
) -> bytes:
    """The Enciphered PIN Data for VERIFY P2 '88'.

    Raises
    ------
    ValueError
        Programmer error: a field has the wrong length.
    """
    if len(pin_block) != PIN_BLOCK_LENGTH:
        raise ValueError("PIN block must be 8 bytes")
    if len(icc_challenge) != CHALLENGE_LENGTH:
        raise ValueError("ICC challenge must be 8 bytes")
    if len(random_padding) != padding_length(key):
        raise ValueError(f"random padding must be {padding_length(key)} bytes")
    plain = bytes((DATA_HEADER,)) + pin_block + icc_challenge + random_padding
    return public_operation(plain, key)
