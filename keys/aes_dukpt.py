"""AES DUKPT, ANSI X9.24-3:2017: initial key, intermediate derivation keys, working keys.

Every key is AES-ECB of a 16-byte derivation-data block under its parent (6.3): one
block per 128 bits of output. The KSN is 12 bytes: the 8-byte initial key ID (BDK ID
and derivation ID) and a 32-bit transaction counter, of which at most 16 bits may be
set (6.1). The terminal side (`AesDukptOriginator`) keeps 32 intermediate derivation
keys and walks the counter exactly as TDES DUKPT does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from keys import _future_keys as _fk
from keys._primitives import aes_encrypt, aes_kcv, check_length
from keys.errors import DukptError, DukptExhaustedError

KSN_LENGTH = 12
INITIAL_KEY_ID_LENGTH = 8
COUNTER_BITS = 32
MAX_ONE_BITS = 16  # X9.24-3:2017 6.1: counters with more than 16 one-bits are skipped


class KeyUsage(IntEnum):
    """Key usage indicator of the derivation data (X9.24-3:2017 Table 2)."""

    KEY_ENCRYPTION = 0x0002
    PIN_ENCRYPTION = 0x1000
    MAC_GENERATION = 0x2000
    MAC_VERIFICATION = 0x2001
    MAC_BOTH_WAYS = 0x2002
    DATA_ENCRYPTION_ENCRYPT = 0x3000
    DATA_ENCRYPTION_DECRYPT = 0x3001
    DATA_ENCRYPTION_BOTH_WAYS = 0x3002
    KEY_DERIVATION = 0x8000
    KEY_DERIVATION_INITIAL_KEY = 0x8001


class KeyType(IntEnum):
    """Algorithm indicator of the derivation data (X9.24-3:2017 Table 3)."""

    TDES2 = 0x0000
    TDES3 = 0x0001
    AES128 = 0x0002
    AES192 = 0x0003
    AES256 = 0x0004


KEY_BITS = {
    KeyType.TDES2: 128,
    KeyType.TDES3: 192,
    KeyType.AES128: 128,
    KeyType.AES192: 192,
    KeyType.AES256: 256,
}
_AES_BY_LENGTH = {16: KeyType.AES128, 24: KeyType.AES192, 32: KeyType.AES256}

# Names accepted by derive_working_key (the public vocabulary) and the rest.
USAGES = {
    "pin_encryption": KeyUsage.PIN_ENCRYPTION,
    "mac_generation": KeyUsage.MAC_GENERATION,
    "mac_verification": KeyUsage.MAC_VERIFICATION,
    "mac_both_ways": KeyUsage.MAC_BOTH_WAYS,
    "data_encryption": KeyUsage.DATA_ENCRYPTION_ENCRYPT,
    "data_decryption": KeyUsage.DATA_ENCRYPTION_DECRYPT,
    "data_both_ways": KeyUsage.DATA_ENCRYPTION_BOTH_WAYS,
    "key_encryption": KeyUsage.KEY_ENCRYPTION,
    "key_derivation": KeyUsage.KEY_DERIVATION,
}
KEY_TYPES = {t.name: t for t in KeyType}


def _derivation_key_type(key: bytes, name: str) -> KeyType:
    check_length(name, key, tuple(_AES_BY_LENGTH))
    return _AES_BY_LENGTH[len(key)]


def _derive(parent: bytes, usage: KeyUsage, key_type: KeyType, context: bytes) -> bytes:
    """X9.24-3:2017 6.3.2 derivation: AES-ECB of derivation data, one block per 128 bits."""
    bits = KEY_BITS[key_type]
    blocks = b""
    for block_counter in range(1, (bits + 127) // 128 + 1):
        data = (
            bytes([0x01, block_counter])  # version 1, key block counter
            + usage.to_bytes(2, "big")
            + key_type.to_bytes(2, "big")
            + bits.to_bytes(2, "big")
            + context
        )
        blocks += aes_encrypt(parent, data)
    return blocks[: bits // 8]


def _split_ksn(ksn: bytes) -> tuple[bytes, int]:
    check_length("AES DUKPT KSN", ksn, (KSN_LENGTH,))
    return ksn[:INITIAL_KEY_ID_LENGTH], int.from_bytes(ksn[INITIAL_KEY_ID_LENGTH:], "big")


def make_ksn(initial_key_id: bytes, counter: int) -> bytes:
    check_length("initial key ID", initial_key_id, (INITIAL_KEY_ID_LENGTH,))
    if not 0 <= counter < 1 << COUNTER_BITS:
        raise DukptError(f"counter {counter} does not fit in {COUNTER_BITS} bits")
    return initial_key_id + counter.to_bytes(4, "big")


def counter_is_valid(counter: int) -> bool:
    return _fk.valid(counter, COUNTER_BITS, MAX_ONE_BITS)


def next_counter(counter: int) -> int | None:
    return _fk.following(counter, COUNTER_BITS, MAX_ONE_BITS)


def derive_initial_key(bdk: bytes, initial_key_id: bytes) -> bytes:
    """Initial key from the BDK (AES-128/192/256) and 8-byte initial key ID (6.3.1)."""
    key_type = _derivation_key_type(bdk, "BDK")
    check_length("initial key ID", initial_key_id, (INITIAL_KEY_ID_LENGTH,))
    return _derive(bdk, KeyUsage.KEY_DERIVATION_INITIAL_KEY, key_type, initial_key_id)


def _child(parent: bytes, initial_key_id: bytes, counter: int) -> bytes:
    """Intermediate derivation key for ``counter`` from its parent (6.3.3)."""
    key_type = _AES_BY_LENGTH[len(parent)]
    context = initial_key_id[4:] + counter.to_bytes(4, "big")
    return _derive(parent, KeyUsage.KEY_DERIVATION, key_type, context)


def derive_transaction_key(initial_key: bytes, ksn: bytes) -> bytes:
    """Intermediate derivation key for the KSN, as the receiving host computes it (6.3.3).

    Accepts any counter, including ones a device would skip, so a host can reproduce
    the standard's supplementary vectors.
    """
    _derivation_key_type(initial_key, "initial key")
    initial_key_id, counter = _split_ksn(ksn)
    key = initial_key
    working = 0
    bit = 1 << (COUNTER_BITS - 1)
    while bit:
        if counter & bit:
            working |= bit
            key = _child(key, initial_key_id, working)
        bit >>= 1
    return key


def _usage(usage: str) -> KeyUsage:
    try:
        return USAGES[usage]
    except KeyError:
        raise DukptError(f"unknown AES DUKPT key usage {usage!r}") from None


def _key_type(key_type: str, derivation_key: bytes) -> KeyType:
    try:
        wanted = KEY_TYPES[key_type.upper()]
    except KeyError:
        raise DukptError(f"unknown AES DUKPT key type {key_type!r}") from None
    if KEY_BITS[wanted] > len(derivation_key) * 8:
        raise DukptError(f"{key_type} working key is stronger than its derivation key")
    return wanted


def working_key_from_derivation_key(
    derivation_key: bytes, ksn: bytes, usage: str, key_type: str = "AES128"
) -> bytes:
    """Working key from an intermediate derivation key (6.3.4); the originator's path."""
    _derivation_key_type(derivation_key, "derivation key")
    initial_key_id, counter = _split_ksn(ksn)
    context = initial_key_id[4:] + counter.to_bytes(4, "big")
    return _derive(derivation_key, _usage(usage), _key_type(key_type, derivation_key), context)


def derive_working_key(
    initial_key: bytes, ksn: bytes, usage: str, key_type: str = "AES128"
) -> bytes:
    """Working key for ``usage`` from the initial key and KSN (host side, 6.3.3 + 6.3.4).

    ``usage`` in {"pin_encryption", "mac_generation", "mac_verification",
    "data_encryption"} (and the other `USAGES`); ``key_type`` in AES128, AES192, AES256,
    TDES2, TDES3 and no stronger than the initial key.
    """
    derivation_key = derive_transaction_key(initial_key, ksn)
    return working_key_from_derivation_key(derivation_key, ksn, usage, key_type)


@dataclass(slots=True)
class AesDukptOriginator:
    """Terminal-side AES DUKPT state: KSN plus 32 intermediate derivation key registers.

    Same discipline as `keys.dukpt.DukptOriginator`: persist `advanced()` before using
    a key from `current_key` / `working_key`. The repr never shows a key.
    """

    ksn: bytes
    registers: list[bytes | None] = field(default_factory=lambda: [None] * COUNTER_BITS)

    def __post_init__(self) -> None:
        _split_ksn(self.ksn)
        if len(self.registers) != COUNTER_BITS:
            raise DukptError(f"AES DUKPT state needs {COUNTER_BITS} registers")
        for register in self.registers:
            if register is not None:
                _derivation_key_type(register, "derivation key register")

    def __repr__(self) -> str:
        live = sum(r is not None for r in self.registers)
        return f"AesDukptOriginator(ksn={self.ksn.hex().upper()}, live_registers={live})"

    @classmethod
    def load_initial_key(cls, initial_key: bytes, initial_key_id: bytes) -> AesDukptOriginator:
        """Load the initial key (6.4): every register from it; the counter becomes 1."""
        _derivation_key_type(initial_key, "initial key")
        check_length("initial key ID", initial_key_id, (INITIAL_KEY_ID_LENGTH,))
        registers: list[bytes | None] = [
            _child(initial_key, initial_key_id, 1 << (COUNTER_BITS - 1 - index))
            for index in range(COUNTER_BITS)
        ]
        return cls(ksn=make_ksn(initial_key_id, 1), registers=registers)

    @classmethod
    def at_counter(cls, initial_key: bytes, ksn: bytes) -> AesDukptOriginator:
        """The state a device holds when about to use ``ksn`` (tests, simulators)."""
        _, counter = _split_ksn(ksn)
        if not counter_is_valid(counter):
            raise DukptError(f"counter {counter} is not a usable AES DUKPT counter")
        registers = _fk.registers_at(
            counter,
            COUNTER_BITS,
            MAX_ONE_BITS,
            lambda target: derive_transaction_key(initial_key, ksn[:8] + target.to_bytes(4, "big")),
        )
        return cls(ksn=ksn, registers=registers)

    @property
    def counter(self) -> int:
        return _split_ksn(self.ksn)[1]

    @property
    def exhausted(self) -> bool:
        return not counter_is_valid(self.counter)

    def current_key(self) -> bytes:
        """The intermediate derivation key for `ksn`."""
        if self.exhausted:
            raise DukptExhaustedError("AES DUKPT counter space exhausted; inject a new key")
        counter = self.counter
        key = self.registers[_fk.index_of(counter & -counter, COUNTER_BITS)]
        if key is None:
            raise DukptError(f"derivation key register for counter {counter} is empty")
        return key

    def working_key(self, usage: str, key_type: str = "AES128") -> bytes:
        return working_key_from_derivation_key(self.current_key(), self.ksn, usage, key_type)

    def advance(self) -> None:
        self.current_key()
        initial_key_id = self.ksn[:INITIAL_KEY_ID_LENGTH]
        following = _fk.advance(
            self.counter,
            self.registers,
            lambda parent, counter: _child(parent, initial_key_id, counter),
            COUNTER_BITS,
            MAX_ONE_BITS,
        )
        self.ksn = make_ksn(initial_key_id, following)

    def advanced(self) -> AesDukptOriginator:
        copy = AesDukptOriginator(ksn=self.ksn, registers=list(self.registers))
        copy.advance()
        return copy

    def to_bytes(self) -> bytes:
        """Serialized state (secret): version 1, key length, KSN, register bitmap, keys."""
        live = [r for r in self.registers if r is not None]
        key_length = len(live[0]) if live else 16
        return bytes([1, key_length]) + self.ksn + _fk.pack(self.registers, key_length)

    @classmethod
    def from_bytes(cls, blob: bytes) -> AesDukptOriginator:
        if len(blob) < 2 + KSN_LENGTH or blob[0] != 1 or blob[1] not in _AES_BY_LENGTH:
            raise DukptError("AES DUKPT state blob has an unknown version or is truncated")
        registers = _fk.unpack(blob[2 + KSN_LENGTH :], COUNTER_BITS, blob[1])
        if registers is None:
            raise DukptError("AES DUKPT state blob register area is malformed")
        return cls(ksn=blob[2 : 2 + KSN_LENGTH], registers=registers)

    def kcv(self) -> str:
        return "EXHAUSTED" if self.exhausted else aes_kcv(self.current_key())
