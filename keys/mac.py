"""Message authentication codes: ISO/IEC 9797-1 algorithms 1 and 3, and AES-CMAC.

The retail MAC (algorithm 3, ANSI X9.19) is what ISO 8583 acquirers use with DUKPT MAC
variants; AES-CMAC (NIST SP 800-38B) is its AES-era successor and TR-31 D's integrity MAC.
"""

from __future__ import annotations

import hmac

from keys._primitives import (
    aes_cmac as _aes_cmac,
)
from keys._primitives import (
    check_length,
    des_cbc_mac,
    des_decrypt,
    des_encrypt,
    tdes_cbc_encrypt,
)
from keys.errors import MacError

BLOCK = 8


def pad(data: bytes, method: int, block: int = BLOCK) -> bytes:
    """ISO/IEC 9797-1 padding method 1 (zeros) or 2 (0x80 then zeros).

    Method 1 leaves block-aligned data alone and turns empty data into one zero block
    (ISO/IEC 9797-1:2011 6.3.1); method 2 always adds at least one byte (6.3.2).
    """
    if method == 1:
        if not data:
            return bytes(block)
        return data + bytes(-len(data) % block)
    if method == 2:
        data = data + b"\x80"
        return data + bytes(-len(data) % block)
    raise MacError(f"unsupported ISO 9797-1 padding method {method}")


def _cbc_des(key8: bytes, data: bytes) -> bytes:
    return des_cbc_mac(key8, data)


def _cbc_tdes(key: bytes, data: bytes) -> bytes:
    return tdes_cbc_encrypt(key, bytes(BLOCK), data)[-BLOCK:]


def iso9797_mac(
    key: bytes, data: bytes, *, algorithm: int = 3, padding: int = 1, length: int = 8
) -> bytes:
    """ISO/IEC 9797-1 MAC with DES-family block cipher.

    algorithm 1: CBC-MAC under the whole key (8-byte key: DES; 16/24: TDES).
    algorithm 3: DES CBC under K (left half), output transformation D_K' then E_K
    (16-byte key K || K'). ``length`` truncates (4..8 bytes).
    """
    if not 4 <= length <= BLOCK:
        raise MacError(f"MAC length must be 4..8 bytes, got {length}")
    padded = pad(data, padding)
    if algorithm == 1:
        check_length("MAC key", key, (8, 16, 24))
        mac = _cbc_des(key, padded) if len(key) == 8 else _cbc_tdes(key, padded)
    elif algorithm == 3:
        check_length("retail MAC key", key, (16,))
        left, right = key[:8], key[8:]
        mac = des_encrypt(left, des_decrypt(right, _cbc_des(left, padded)))  # 9797-1 7.3
    else:
        raise MacError(f"unsupported ISO 9797-1 MAC algorithm {algorithm}")
    return mac[:length]


def retail_mac(key: bytes, data: bytes, *, padding: int = 1, length: int = 8) -> bytes:
    """Retail MAC: ISO/IEC 9797-1 algorithm 3, padding method 1 unless told otherwise."""
    return iso9797_mac(key, data, algorithm=3, padding=padding, length=length)


def aes_cmac(key: bytes, data: bytes, *, length: int = 16) -> bytes:
    """AES-CMAC (NIST SP 800-38B), truncated to ``length`` bytes (8..16)."""
    if not 8 <= length <= 16:
        raise MacError(f"AES-CMAC length must be 8..16 bytes, got {length}")
    return _aes_cmac(key, data)[:length]


def verify(expected: bytes, received: bytes) -> None:
    """Constant-time MAC comparison; raises `MacError` (without either value) on mismatch."""
    if not hmac.compare_digest(expected, received):
        raise MacError("MAC does not verify")
