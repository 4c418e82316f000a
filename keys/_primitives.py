"""Block-cipher building blocks shared by keys/ modules (pycryptodome underneath).

Private: callers use the public modules. Every function checks lengths and raises
`KeyLengthError` naming the argument, never echoing its bytes.
"""

from __future__ import annotations

from typing import Any

from Crypto.Cipher import AES, DES, DES3
from Crypto.Hash import CMAC

from keys.errors import KeyLengthError

TDES_KEY_LENGTHS = (16, 24)
AES_KEY_LENGTHS = (16, 24, 32)


def xor(a: bytes, b: bytes) -> bytes:
    """Bytewise XOR of two equal-length strings."""
    if len(a) != len(b):
        raise KeyLengthError(f"xor operands differ in length ({len(a)} vs {len(b)})")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def check_length(name: str, value: bytes, allowed: tuple[int, ...]) -> None:
    if len(value) not in allowed:
        wanted = " or ".join(str(n) for n in allowed)
        raise KeyLengthError(f"{name} must be {wanted} bytes, got {len(value)}")


def _tdes_key(key: bytes) -> bytes:
    """Expand a double-length key to K1 K2 K1 so degenerate (K1 == K2) keys still work.

    pycryptodome refuses keys whose thirds collapse to single DES; variant keys in
    X9.24 can legitimately do that, and the arithmetic is identical.
    """
    check_length("TDES key", key, TDES_KEY_LENGTHS)
    return key + key[:8] if len(key) == 16 else key


def _same_des_key(a: bytes, b: bytes) -> bool:
    """DES ignores each byte's low (parity) bit."""
    return all((x ^ y) & 0xFE == 0 for x, y in zip(a, b, strict=True))


def _single_des_equivalent(key: bytes) -> bytes | None:
    """The single-DES key an EDE key collapses to (K1 == K2 or K2 == K3), else None."""
    full = _tdes_key(key)
    if _same_des_key(full[:8], full[8:16]):
        return full[16:24]
    if _same_des_key(full[8:16], full[16:24]):
        return full[:8]
    return None


def _des3(key: bytes, mode: int, iv: bytes = bytes(8)) -> Any:
    single = _single_des_equivalent(key)
    if single is not None:
        # pycryptodome refuses degenerate EDE keys; the arithmetic is single DES.
        if mode == DES.MODE_CBC:
            return DES.new(single, DES.MODE_CBC, iv=iv)  # noqa: S304 - EDE with K1 == K2
        return DES.new(single, DES.MODE_ECB)  # noqa: S304 - EDE with K1 == K2
    full = _tdes_key(key)
    if mode == DES3.MODE_CBC:
        return DES3.new(full, DES3.MODE_CBC, iv=iv)
    return DES3.new(full, DES3.MODE_ECB)


def des_encrypt(key8: bytes, block: bytes) -> bytes:
    """Single DES ECB encryption of whole 8-byte blocks."""
    check_length("DES key", key8, (8,))
    return bytes(DES.new(key8, DES.MODE_ECB).encrypt(block))  # noqa: S304 - X9.24 NRKGP


def des_decrypt(key8: bytes, block: bytes) -> bytes:
    check_length("DES key", key8, (8,))
    return bytes(DES.new(key8, DES.MODE_ECB).decrypt(block))  # noqa: S304 - 9797-1 alg 3


def des_cbc_mac(key8: bytes, data: bytes) -> bytes:
    """Last block of single-DES CBC over block-aligned ``data`` with a zero IV."""
    check_length("DES key", key8, (8,))
    cipher = DES.new(key8, DES.MODE_CBC, iv=bytes(8))  # noqa: S304 - 9797-1 alg 1/3
    return bytes(cipher.encrypt(data)[-8:])


def tdes_encrypt(key: bytes, data: bytes) -> bytes:
    """TDES ECB encryption (EDE, double or triple length) of whole 8-byte blocks."""
    return bytes(_des3(key, DES3.MODE_ECB).encrypt(data))


def tdes_decrypt(key: bytes, data: bytes) -> bytes:
    return bytes(_des3(key, DES3.MODE_ECB).decrypt(data))


def tdes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    return bytes(_des3(key, DES3.MODE_CBC, iv).encrypt(data))


def tdes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    return bytes(_des3(key, DES3.MODE_CBC, iv).decrypt(data))


def aes_encrypt(key: bytes, data: bytes) -> bytes:
    """AES ECB encryption of whole 16-byte blocks."""
    check_length("AES key", key, AES_KEY_LENGTHS)
    return bytes(AES.new(key, AES.MODE_ECB).encrypt(data))


def aes_decrypt(key: bytes, data: bytes) -> bytes:
    check_length("AES key", key, AES_KEY_LENGTHS)
    return bytes(AES.new(key, AES.MODE_ECB).decrypt(data))


def aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    check_length("AES key", key, AES_KEY_LENGTHS)
    return bytes(AES.new(key, AES.MODE_CBC, iv=iv).encrypt(data))


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    check_length("AES key", key, AES_KEY_LENGTHS)
    return bytes(AES.new(key, AES.MODE_CBC, iv=iv).decrypt(data))


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B), full 16-byte tag."""
    check_length("AES key", key, AES_KEY_LENGTHS)
    return bytes(CMAC.new(key, msg=data, ciphermod=AES).digest())


def tdes_cmac(key: bytes, data: bytes) -> bytes:
    """TDES-CMAC (NIST SP 800-38B with the 64-bit block), full 8-byte tag."""
    single = _single_des_equivalent(key)
    if single is not None:
        return bytes(CMAC.new(single, msg=data, ciphermod=DES).digest())
    return bytes(CMAC.new(_tdes_key(key), msg=data, ciphermod=DES3).digest())


def kcv(key: bytes) -> str:
    """Key check value as upper-case hex, safe to show and log.

    TDES (16/24 bytes): first 3 bytes of the key encrypting eight zero bytes
    (ANSI X9.24-1:2009 key check value). AES (32 bytes, or 16/24 bytes when asked via
    `aes_kcv`): see `aes_kcv`. A 16-byte key is ambiguous, so this function treats
    16 and 24 bytes as TDES; use `aes_kcv` for AES keys.
    """
    if len(key) in TDES_KEY_LENGTHS:
        return tdes_encrypt(key, bytes(8))[:3].hex().upper()
    return aes_kcv(key)


def aes_kcv(key: bytes) -> str:
    """AES key check value: first 5 bytes of AES-CMAC over 16 zero bytes (X9.24-1:2017 7.7)."""
    return aes_cmac(key, bytes(16))[:5].hex().upper()
