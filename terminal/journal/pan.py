"""PAN protection in the journal: masked for display, AES-GCM for the few uses that need it.

The journal keeps a PAN only as first-6/last-4 plus an AES-256-GCM ciphertext under the
data key (PCI DSS 3.4: render PAN unreadable wherever stored). The key is never in the
journal file: it comes from the key store (or, until the store provides a data-key slot, is
derived from the device root secret; see terminal.journal.datakey). A key check value
stored in the journal catches opening it with the wrong key before anything is written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable

from Crypto.Cipher import AES

from terminal.errors import TerminalError

_AAD = b"posterm journal PAN v1"
_NONCE = 12


class PanCipherError(TerminalError):
    """The PAN ciphertext did not authenticate, or no data key was given."""


def mask_pan(pan: str) -> str:
    """First 6 and last 4 digits, the rest as '*' (PCI DSS 3.3)."""
    if len(pan) <= 10:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def key_check_value(key: bytes) -> bytes:
    """A 4-byte check value that reveals nothing useful about the key."""
    return hmac.new(key, b"posterm journal KCV", hashlib.sha256).digest()[:4]


class PanCipher:
    """AES-256-GCM over PAN digits; ``random`` is injectable for replayable tests."""

    def __init__(self, key: bytes, random: Callable[[int], bytes] = os.urandom) -> None:
        if len(key) != 32:
            raise PanCipherError("data key must be 32 bytes (AES-256)")
        # pycryptodome (already loaded for keys/): ~70 µs per PAN, and it spares the
        # ~6 MB of resident memory the `cryptography` package costs a handset.
        self._key = key
        self._random = random
        self.kcv = key_check_value(key)

    def __repr__(self) -> str:
        return f"PanCipher(kcv={self.kcv.hex()})"

    def encrypt(self, pan: str) -> bytes:
        nonce = self._random(_NONCE)
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
        cipher.update(_AAD)
        ciphertext, tag = cipher.encrypt_and_digest(pan.encode("ascii"))
        return nonce + ciphertext + tag

    def decrypt(self, blob: bytes) -> str:
        if len(blob) < _NONCE + 16:
            raise PanCipherError("PAN ciphertext does not authenticate")
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=blob[:_NONCE])
        cipher.update(_AAD)
        try:
            return cipher.decrypt_and_verify(blob[_NONCE:-16], blob[-16:]).decode("ascii")
        except (ValueError, UnicodeDecodeError):
            raise PanCipherError("PAN ciphertext does not authenticate") from None
