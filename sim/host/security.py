"""The host's side of DUKPT: keys per KSN, PIN block decryption, request/response MACs.

Key arithmetic comes from keys.dukpt / keys.mac (ANSI X9.24-1, ISO 9797-1 alg. 3); the
clear PIN block is decoded with psec so the host's PIN decoding does not share code with
the terminal's keys.pinblock.
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass

from Crypto.Cipher import DES3
from psec import pinblock as psec_pinblock

from sim.host.errors import FieldError

KSN_LEN = 10  # bytes; 20 hex digits in DE 48 KS
_COUNTER_MASK = (1 << 21) - 1  # X9.24-1: the low 21 bits of the KSN are the counter


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The variants of one transaction key; repr hides them."""

    pin: bytes
    mac_request: bytes
    mac_response: bytes

    def __repr__(self) -> str:
        return "SessionKeys(<hidden>)"


def parse_ksn(text: str) -> bytes:
    try:
        ksn = bytes.fromhex(text)
    except ValueError:
        raise FieldError("48", "KS is not hex") from None
    if len(ksn) != KSN_LEN:
        raise FieldError("48", f"KS must be {KSN_LEN} bytes, got {len(ksn)}")
    return ksn


class DukptHost:
    """Derives per-KSN keys from the BDK, caching IPEKs per device and keys per KSN."""

    def __init__(self, bdk: bytes, cache_size: int = 8192) -> None:
        if len(bdk) not in (16, 24):
            raise ValueError("BDK must be a 16 or 24 byte TDES key")
        self._bdk = bdk
        self._ipeks: dict[bytes, bytes] = {}
        self._keys: OrderedDict[bytes, SessionKeys] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "DukptHost(<bdk hidden>)"

    def keys_for(self, ksn: bytes) -> SessionKeys:
        from keys import dukpt  # imported late: keys.dukpt is built in parallel (issue 4)

        with self._lock:
            cached = self._keys.get(ksn)
            if cached is not None:
                self._keys.move_to_end(ksn)
                return cached
        base = (int.from_bytes(ksn, "big") & ~_COUNTER_MASK).to_bytes(KSN_LEN, "big")
        ipek = self._ipeks.get(base)
        if ipek is None:
            ipek = dukpt.derive_ipek(self._bdk, ksn)
            self._ipeks[base] = ipek
        key = dukpt.derive_transaction_key(ipek, ksn)
        keys = SessionKeys(
            pin=dukpt.pin_variant(key),
            mac_request=dukpt.mac_request_variant(key),
            mac_response=dukpt.mac_response_variant(key),
        )
        with self._lock:
            self._keys[ksn] = keys
            if len(self._keys) > self._cache_size:
                self._keys.popitem(last=False)
        return keys


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO 9797-1 MAC algorithm 3, padding method 1 (host-spec "Security")."""
    from keys import mac

    return mac.retail_mac(key, data)


def mac_ok(key: bytes, data: bytes, received: bytes) -> bool:
    return hmac.compare_digest(retail_mac(key, data), received)


def decrypt_pin(keys: SessionKeys, pin_block: bytes, pan: str) -> str | None:
    """Clear PIN from an ISO 9564 format 0 block, or None when the block is malformed."""
    if len(pin_block) != 8:
        return None
    clear = DES3.new(keys.pin + keys.pin[:8], DES3.MODE_ECB).decrypt(pin_block)
    try:
        return psec_pinblock.decode_pinblock_iso_0(clear, pan)
    except ValueError:
        return None
