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

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
        # cryptography's AESGCM keeps the key schedule: ~µs per PAN, where building a
        # pycryptodome GCM object per call cost ~0.5 ms (bench_journal).
        self._aead = AESGCM(key)
        self._random = random
        self.kcv = key_check_value(key)

    def __repr__(self) -> str:
        return f"PanCipher(kcv={self.kcv.hex()})"

    def encrypt(self, pan: str) -> bytes:
        nonce = self._random(_NONCE)
        return nonce + self._aead.encrypt(nonce, pan.encode("ascii"), _AAD)

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], _AAD).decode("ascii")
        except (InvalidTag, ValueError):
            raise PanCipherError("PAN ciphertext does not authenticate") from None
