"""TDES DUKPT, ANSI X9.24-1:2009: host-side derivation and the terminal-side originator.

The host (receiving party) derives any transaction key from the IPEK and the KSN.
The terminal (originating party) never holds the IPEK after loading: it keeps at most
21 future keys (`DukptOriginator`) and erases each key once used, so a stolen device
cannot recompute past keys. Counters with more than ten 1-bits are skipped (A.2), which
is why a device exhausts after 1 048 575 transactions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keys import _future_keys as _fk
from keys._primitives import (
    check_length,
    des_encrypt,
    kcv,
    tdes_cbc_decrypt,
    tdes_cbc_encrypt,
    tdes_encrypt,
    xor,
)
from keys.errors import DukptError, DukptExhaustedError

KSN_LENGTH = 10
KEY_LENGTH = 16
COUNTER_BITS = 21
COUNTER_MASK = (1 << COUNTER_BITS) - 1
MAX_ONE_BITS = 10  # X9.24-1:2009 A.2: counters with more than ten 1-bits are never used
REGISTER_COUNT = COUNTER_BITS

# X9.24-1:2009 A.6 (IPEK right half) and A.2 non-reversible key generation mask.
_KEY_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")
# X9.24-1:2009 A.4.1 Table A-1 / A.6: variant constants.
_PIN_VARIANT = bytes.fromhex("00000000000000FF00000000000000FF")
_MAC_REQUEST_VARIANT = bytes.fromhex("000000000000FF00000000000000FF00")
_MAC_RESPONSE_VARIANT = bytes.fromhex("00000000FF00000000000000FF000000")
_DATA_REQUEST_VARIANT = bytes.fromhex("0000000000FF00000000000000FF0000")
_DATA_RESPONSE_VARIANT = bytes.fromhex("000000FF00000000000000FF00000000")


def _check_ksn(ksn: bytes) -> None:
    check_length("KSN", ksn, (KSN_LENGTH,))


def _check_key(name: str, key: bytes) -> None:
    check_length(name, key, (KEY_LENGTH,))


def ksn_counter(ksn: bytes) -> int:
    """The 21-bit transaction counter held in the rightmost bits of a KSN."""
    _check_ksn(ksn)
    return int.from_bytes(ksn, "big") & COUNTER_MASK


def ksn_with_counter(ksn: bytes, counter: int) -> bytes:
    """The KSN with its 21-bit counter replaced by ``counter``."""
    _check_ksn(ksn)
    if not 0 <= counter <= COUNTER_MASK:
        raise DukptError(f"counter {counter} does not fit in {COUNTER_BITS} bits")
    base = int.from_bytes(ksn, "big") & ~COUNTER_MASK
    return (base | counter).to_bytes(KSN_LENGTH, "big")


def counter_is_valid(counter: int) -> bool:
    """True for a counter a device may use: 1..2^21-1 with at most ten 1-bits."""
    return _fk.valid(counter, COUNTER_BITS, MAX_ONE_BITS)


def next_counter(counter: int) -> int | None:
    """The next usable counter after ``counter``, or None when the space is exhausted."""
    return _fk.following(counter, COUNTER_BITS, MAX_ONE_BITS)


def derive_ipek(bdk: bytes, ksn: bytes) -> bytes:
    """Initial PIN Encryption Key from the BDK and any KSN of the device (A.6)."""
    _check_key("BDK", bdk)
    _check_ksn(ksn)
    base = ksn_with_counter(ksn, 0)[:8]  # leftmost 64 bits, counter cleared
    left = tdes_encrypt(bdk, base)
    right = tdes_encrypt(xor(bdk, _KEY_MASK), base)
    return left + right


def _non_reversible_key(key: bytes, ksn_register: bytes) -> bytes:
    """Non-reversible key generation process (X9.24-1:2009 A.2), on a 16-byte key."""
    left, right = key[:8], key[8:]
    reg2 = xor(des_encrypt(left, xor(ksn_register, right)), right)
    masked = xor(key, _KEY_MASK)
    m_left, m_right = masked[:8], masked[8:]
    reg1 = xor(des_encrypt(m_left, xor(ksn_register, m_right)), m_right)
    return reg1 + reg2


def derive_transaction_key(ipek: bytes, ksn: bytes) -> bytes:
    """The transaction key for ``ksn`` from the IPEK, as the receiving host computes it (A.3).

    Returns the base (un-varianted) key; apply a ``*_variant`` function for its use.
    """
    _check_key("IPEK", ipek)
    counter = ksn_counter(ksn)
    register = int.from_bytes(ksn[2:], "big") & ~COUNTER_MASK  # rightmost 64 bits
    key = ipek
    bit = 1 << (COUNTER_BITS - 1)
    while bit:
        if counter & bit:
            register |= bit
            key = _non_reversible_key(key, register.to_bytes(8, "big"))
        bit >>= 1
    return key


def _variant(name: str, key: bytes, mask: bytes) -> bytes:
    _check_key(name, key)
    return xor(key, mask)


def pin_variant(key: bytes) -> bytes:
    """PIN encryption key from a transaction key (A.4.1 Table A-1)."""
    return _variant("transaction key", key, _PIN_VARIANT)


def mac_request_variant(key: bytes) -> bytes:
    """MAC key for request messages (terminal to host)."""
    return _variant("transaction key", key, _MAC_REQUEST_VARIANT)


def mac_response_variant(key: bytes) -> bytes:
    """MAC key for response messages (host to terminal)."""
    return _variant("transaction key", key, _MAC_RESPONSE_VARIANT)


def data_request_variant(key: bytes) -> bytes:
    """Data-encryption variant for requests (XOR only; see `data_encryption_key`)."""
    return _variant("transaction key", key, _DATA_REQUEST_VARIANT)


def data_response_variant(key: bytes) -> bytes:
    """Data-encryption variant for responses (XOR only; see `data_encryption_key`)."""
    return _variant("transaction key", key, _DATA_RESPONSE_VARIANT)


def data_encryption_key(variant_key: bytes) -> bytes:
    """One-way step applied to a data variant before use (X9.24-1:2009 A.4.1 note).

    Each half of the variant key is TDES-encrypted under the variant key itself, so a
    data key leaking does not reveal the MAC or PIN variants of the same transaction.
    """
    _check_key("data variant key", variant_key)
    return tdes_encrypt(variant_key, variant_key)


def encrypt_data(variant_key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    """TDES-CBC (zero padding) under the one-way data key, as in the A.4 examples."""
    padded = data + bytes(-len(data) % 8)
    return tdes_cbc_encrypt(data_encryption_key(variant_key), iv, padded)


def decrypt_data(variant_key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    """Inverse of `encrypt_data` (the zero padding is left for the caller to strip)."""
    if len(data) % 8:
        raise DukptError(f"encrypted data length {len(data)} is not a multiple of 8")
    return tdes_cbc_decrypt(data_encryption_key(variant_key), iv, data)


@dataclass(slots=True)
class DukptOriginator:
    """Terminal-side DUKPT state: KSN plus the 21 future-key registers (X9.24-1:2009 A.2).

    Register ``i`` (0-based) belongs to counter bit ``1 << (20 - i)``, as FKR #i+1 in the
    standard. Use `current_key` for the key of `ksn`, then `advance` - or better, persist
    `advanced()` before using the key so a crash never reuses a counter. The repr shows
    the KSN and how many registers are live, never a key.
    """

    ksn: bytes
    registers: list[bytes | None] = field(default_factory=lambda: [None] * REGISTER_COUNT)

    def __post_init__(self) -> None:
        _check_ksn(self.ksn)
        if len(self.registers) != REGISTER_COUNT:
            raise DukptError(f"DUKPT state needs {REGISTER_COUNT} registers")
        for register in self.registers:
            if register is not None:
                _check_key("future key register", register)

    def __repr__(self) -> str:
        live = sum(r is not None for r in self.registers)
        return f"DukptOriginator(ksn={self.ksn.hex().upper()}, live_registers={live})"

    @classmethod
    def load_initial_key(cls, ipek: bytes, ksn: bytes) -> DukptOriginator:
        """Load Initial Key (A.2): fill every register from the IPEK; counter becomes 1.

        ``ksn`` is the initial KSN; its counter must be zero (the injection contract).
        """
        _check_key("IPEK", ipek)
        _check_ksn(ksn)
        if ksn_counter(ksn) != 0:
            raise DukptError("initial KSN must have a zero transaction counter")
        register = int.from_bytes(ksn[2:], "big")
        registers: list[bytes | None] = []
        for index in range(REGISTER_COUNT):
            bit = 1 << (COUNTER_BITS - 1 - index)
            registers.append(_non_reversible_key(ipek, (register | bit).to_bytes(8, "big")))
        return cls(ksn=ksn_with_counter(ksn, 1), registers=registers)

    @classmethod
    def at_counter(cls, ipek: bytes, ksn: bytes) -> DukptOriginator:
        """The exact state a device loaded with ``ipek`` holds when about to use ``ksn``.

        For tests, simulators and migration (see `keys._future_keys.registers_at`).
        """
        _check_key("IPEK", ipek)
        counter = ksn_counter(ksn)
        if not counter_is_valid(counter):
            raise DukptError(f"counter {counter} is not a usable DUKPT counter")
        registers = _fk.registers_at(
            counter,
            COUNTER_BITS,
            MAX_ONE_BITS,
            lambda target: derive_transaction_key(ipek, ksn_with_counter(ksn, target)),
        )
        return cls(ksn=ksn, registers=registers)

    @property
    def counter(self) -> int:
        return ksn_counter(self.ksn)

    @property
    def exhausted(self) -> bool:
        return not counter_is_valid(self.counter)

    def current_key(self) -> bytes:
        """The base transaction key for `ksn` (apply a variant before use)."""
        if self.exhausted:
            raise DukptExhaustedError("DUKPT counter space exhausted; inject a new initial key")
        counter = self.counter
        key = self.registers[_fk.index_of(counter & -counter, COUNTER_BITS)]
        if key is None:
            raise DukptError(f"future key register for counter {counter} is empty")
        return key

    def advance(self) -> None:
        """New Key process (A.2): derive the future keys below this one, erase it, step on.

        Past the last counter the state is marked exhausted (counter 0) and every
        register is cleared; `current_key` then raises `DukptExhaustedError`.
        """
        self.current_key()
        base = int.from_bytes(self.ksn[2:], "big") & ~COUNTER_MASK

        def child(parent: bytes, counter: int) -> bytes:
            return _non_reversible_key(parent, (base | counter).to_bytes(8, "big"))

        following = _fk.advance(self.counter, self.registers, child, COUNTER_BITS, MAX_ONE_BITS)
        self.ksn = ksn_with_counter(self.ksn, following)

    def advanced(self) -> DukptOriginator:
        """A copy one step on; the caller persists it before using `current_key`."""
        copy = DukptOriginator(ksn=self.ksn, registers=list(self.registers))
        copy.advance()
        return copy

    # -- persistence ---------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialized state (secret: store it wrapped): version 1, KSN, register bitmap, keys."""
        return b"\x01" + self.ksn + _fk.pack(self.registers, KEY_LENGTH)

    @classmethod
    def from_bytes(cls, blob: bytes) -> DukptOriginator:
        if len(blob) < 1 + KSN_LENGTH or blob[0] != 1:
            raise DukptError("DUKPT state blob has an unknown version or is truncated")
        registers = _fk.unpack(blob[1 + KSN_LENGTH :], REGISTER_COUNT, KEY_LENGTH)
        if registers is None:
            raise DukptError("DUKPT state blob register area is malformed")
        return cls(ksn=blob[1 : 1 + KSN_LENGTH], registers=registers)

    def kcv(self) -> str:
        """KCV of the current key (for listings), or "EXHAUSTED"."""
        return "EXHAUSTED" if self.exhausted else kcv(self.current_key())
