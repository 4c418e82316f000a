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

from Crypto.Cipher import DES
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


_KEY_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")  # X9.24-1:2009 A.2
_COUNTER_BITS = 21


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _nrkgp(key: bytes, register: bytes) -> bytes:
    """X9.24-1:2009 A.2 non-reversible key generation process (one step)."""

    def half(k: bytes) -> bytes:
        left, right = k[:8], k[8:]
        return _xor(DES.new(left, DES.MODE_ECB).encrypt(_xor(register, right)), right)  # noqa: S304

    return half(_xor(key, _KEY_MASK)) + half(key)


class DukptHost:
    """Derives per-KSN keys from the BDK (ANSI X9.24-1:2009 TDES DUKPT, receiving side).

    The IPEK and the variants come from keys.dukpt. The transaction key walk is done
    here with every intermediate key of a device memoised, so a device's next KSN costs
    one non-reversible step instead of up to ten; tests hold it equal to
    keys.dukpt.derive_transaction_key and to the Annex A vectors.
    """

    def __init__(self, bdk: bytes, cache_size: int = 65536) -> None:
        if len(bdk) not in (16, 24):
            raise ValueError("BDK must be a 16 or 24 byte TDES key")
        self._bdk = bdk
        self._ipeks: dict[bytes, bytes] = {}
        self._chain: OrderedDict[tuple[bytes, int], bytes] = OrderedDict()
        self._keys: OrderedDict[bytes, SessionKeys] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "DukptHost(<bdk hidden>)"

    def keys_for(self, ksn: bytes) -> SessionKeys:
        from keys import dukpt  # pure key arithmetic (issue 4)

        with self._lock:
            cached = self._keys.get(ksn)
            if cached is not None:
                self._keys.move_to_end(ksn)
                return cached
            key = self._transaction_key(ksn)
            keys = SessionKeys(
                pin=dukpt.pin_variant(key),
                mac_request=dukpt.mac_request_variant(key),
                mac_response=dukpt.mac_response_variant(key),
            )
            self._keys[ksn] = keys
            if len(self._keys) > self._cache_size:
                self._keys.popitem(last=False)
        return keys

    def _transaction_key(self, ksn: bytes) -> bytes:
        from keys import dukpt

        value = int.from_bytes(ksn, "big")
        counter = value & _COUNTER_MASK
        base = (value & ~_COUNTER_MASK).to_bytes(KSN_LEN, "big")
        key = self._ipeks.get(base)
        if key is None:
            key = dukpt.derive_ipek(self._bdk, ksn)
            self._ipeks[base] = key
        register = int.from_bytes(base[2:], "big")
        accumulated = 0
        for bit in range(_COUNTER_BITS - 1, -1, -1):  # X9.24-1:2009 A.3, shift register walk
            if not counter & (1 << bit):
                continue
            accumulated |= 1 << bit
            memo = self._chain.get((base, accumulated))
            if memo is None:
                memo = _nrkgp(key, (register | accumulated).to_bytes(8, "big"))
                self._chain[(base, accumulated)] = memo
                if len(self._chain) > self._cache_size:
                    self._chain.popitem(last=False)
            key = memo
        return key


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO 9797-1 MAC algorithm 3, padding method 1 (host-spec "Security").

    Same function as keys.mac.retail_mac (a test holds them equal), built for speed
    from two single-DES objects: the MAC runs twice per message and is the host's
    hottest crypto (bench/bench_host.py); DES3.new would also re-check key parity in
    Python each time.
    """
    if len(key) != 16:
        raise ValueError("retail MAC key must be 16 bytes")
    padded = data + bytes(-len(data) % 8) if data else bytes(8)  # ISO 9797-1 6.1.1
    chain = DES.new(key[:8], DES.MODE_CBC, iv=bytes(8))  # noqa: S304  # MAC alg. 3 is DES-CBC
    state = chain.encrypt(padded)[-8:]
    # Output transformation 3 (ISO 9797-1 7.3): decrypt under K', encrypt under K. The
    # CBC object still holds ``state`` as its chaining value, so feeding it
    # D_K'(state) XOR state encrypts exactly D_K'(state) under K.
    inner = DES.new(key[8:], DES.MODE_ECB).decrypt(state)  # noqa: S304
    return chain.encrypt(_xor(inner, state))


def mac_ok(key: bytes, data: bytes, received: bytes) -> bool:
    return hmac.compare_digest(retail_mac(key, data), received)


def decrypt_pin(keys: SessionKeys, pin_block: bytes, pan: str) -> str | None:
    """Clear PIN from an ISO 9564 format 0 block, or None when the block is malformed."""
    if len(pin_block) != 8:
        return None
    # Two-key TDES decryption D_K1(E_K2(D_K1(x))) from single-DES objects (no Python
    # parity pass, and a K1 == K2 key needs no special case).
    outer = DES.new(keys.pin[:8], DES.MODE_ECB)  # noqa: S304
    middle = DES.new(keys.pin[8:], DES.MODE_ECB)  # noqa: S304
    clear = outer.decrypt(middle.encrypt(outer.decrypt(pin_block)))
    try:
        return psec_pinblock.decode_pinblock_iso_0(clear, pan)
    except ValueError:
        return None
