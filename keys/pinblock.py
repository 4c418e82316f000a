"""ISO 9564-1 PIN blocks: formats 0, 1 and 3 (8-byte, clear) and format 4 (AES, enciphered).

Randomness: formats 1, 3 and 4 need random fill. keys/ has no randomness of its own,
so every function that needs it takes ``random_bytes`` (a ``Callable[[int], bytes]``);
it defaults to ``os.urandom`` - the OS CSPRNG the issue asks for - and tests inject a
deterministic source. Errors name the rule broken, never the PIN or the PAN.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from keys._primitives import aes_decrypt, aes_encrypt, check_length, tdes_decrypt, tdes_encrypt, xor
from keys.errors import PinBlockError

RandomBytes = Callable[[int], bytes]

PIN_MIN, PIN_MAX = 4, 12
PAN_MIN, PAN_MAX = 8, 19  # ISO/IEC 7812-1 PAN lengths
CLEAR_FORMATS = (0, 1, 3)
_HEX = "0123456789ABCDEF"


def _check_pin(pin: str) -> None:
    if not (PIN_MIN <= len(pin) <= PIN_MAX and pin.isascii() and pin.isdigit()):
        raise PinBlockError(f"PIN must be {PIN_MIN}-{PIN_MAX} decimal digits")


def _check_pan(pan: str) -> None:
    if not (PAN_MIN <= len(pan) <= PAN_MAX and pan.isascii() and pan.isdigit()):
        raise PinBlockError(f"PAN must be {PAN_MIN}-{PAN_MAX} decimal digits")


def _random_nibbles(count: int, alphabet: str, random_bytes: RandomBytes) -> str:
    """``count`` characters drawn uniformly from ``alphabet`` by rejection sampling."""
    limit = 256 - 256 % len(alphabet)
    out: list[str] = []
    while len(out) < count:
        for byte in random_bytes(count * 2):
            if byte < limit:
                out.append(alphabet[byte % len(alphabet)])
                if len(out) == count:
                    break
    return "".join(out)


def _pan_block(pan: str) -> bytes:
    """ISO 9564-1 9.3.1 account field: 0000 + 12 rightmost PAN digits excluding check digit."""
    _check_pan(pan)
    return bytes.fromhex("0000" + pan[:-1][-12:].rjust(12, "0"))


def encode_clear(
    fmt: int, pin: str, pan: str = "", *, random_bytes: RandomBytes = os.urandom
) -> bytes:
    """The clear 8-byte PIN block of format 0, 1 or 3 (ISO 9564-1 9.3.1, 9.3.2, 9.3.4).

    Format 0 fills with F, format 1 with random 0-F, format 3 with random A-F; formats 0
    and 3 are XORed with the PAN block, format 1 ignores ``pan``.
    """
    _check_pin(pin)
    if fmt == 0:
        fill = "F" * (14 - len(pin))
    elif fmt == 1:
        fill = _random_nibbles(14 - len(pin), _HEX, random_bytes)
    elif fmt == 3:
        fill = _random_nibbles(14 - len(pin), "ABCDEF", random_bytes)
    else:
        raise PinBlockError(f"unsupported clear PIN block format {fmt}")
    block = bytes.fromhex(f"{fmt:X}{len(pin):X}{pin}{fill}")
    return block if fmt == 1 else xor(block, _pan_block(pan))


def decode_clear(fmt: int, block: bytes, pan: str = "") -> str:
    """The PIN from a clear format 0, 1 or 3 block, checking every field is well formed."""
    if fmt not in CLEAR_FORMATS:
        raise PinBlockError(f"unsupported clear PIN block format {fmt}")
    if len(block) != 8:
        raise PinBlockError(f"PIN block must be 8 bytes, got {len(block)}")
    plain = block if fmt == 1 else xor(block, _pan_block(pan))
    nibbles = plain.hex().upper()
    if nibbles[0] != f"{fmt:X}":
        raise PinBlockError(f"PIN block control field is not {fmt}")
    length = int(nibbles[1], 16)
    if not PIN_MIN <= length <= PIN_MAX:
        raise PinBlockError("PIN block length field is out of range 4-12")
    pin, fill = nibbles[2 : 2 + length], nibbles[2 + length :]
    if not pin.isdigit():
        raise PinBlockError("PIN block PIN field holds non-decimal digits")
    allowed = {0: "F", 1: _HEX, 3: "ABCDEF"}[fmt]
    if any(ch not in allowed for ch in fill):
        raise PinBlockError(f"PIN block fill is not well formed for format {fmt}")
    return pin


def _format4_pan_field(pan: str) -> bytes:
    """ISO 9564-1 9.4.2 plain-text PAN field: M = len-12 (0 if shorter), PAN padded to 12."""
    _check_pan(pan)
    extra = max(len(pan) - 12, 0)
    digits = f"{extra:X}{pan.rjust(12, '0')}"
    return bytes.fromhex(digits.ljust(32, "0"))


def encode_format4_pin_field(pin: str, *, random_bytes: RandomBytes = os.urandom) -> bytes:
    """ISO 9564-1 9.4.2 plain-text PIN field: 4, N, PIN, A fill to 16 nibbles, 16 random."""
    _check_pin(pin)
    text = f"4{len(pin):X}{pin}" + "A" * (14 - len(pin))
    return bytes.fromhex(text) + random_bytes(8)


def decode_format4_pin_field(field: bytes) -> str:
    if len(field) != 16:
        raise PinBlockError(f"format 4 PIN field must be 16 bytes, got {len(field)}")
    nibbles = field[:8].hex().upper()
    if nibbles[0] != "4":
        raise PinBlockError("PIN block control field is not 4")
    length = int(nibbles[1], 16)
    if not PIN_MIN <= length <= PIN_MAX:
        raise PinBlockError("PIN block length field is out of range 4-12")
    pin, fill = nibbles[2 : 2 + length], nibbles[2 + length :]
    if not pin.isdigit() or any(ch != "A" for ch in fill):
        raise PinBlockError("format 4 PIN field is not well formed")
    return pin


def encipher_format4(
    key: bytes, pin: str, pan: str, *, random_bytes: RandomBytes = os.urandom
) -> bytes:
    """Format 4 enciphered PIN block: E_K(E_K(PIN field) XOR PAN field) (ISO 9564-1 9.4.2)."""
    check_length("AES PIN key", key, (16, 24, 32))
    pan_field = _format4_pan_field(pan)
    intermediate = aes_encrypt(key, encode_format4_pin_field(pin, random_bytes=random_bytes))
    return aes_encrypt(key, xor(intermediate, pan_field))


def decipher_format4(key: bytes, block: bytes, pan: str) -> str:
    """The PIN from a format 4 enciphered block, checking the PIN field's structure."""
    check_length("AES PIN key", key, (16, 24, 32))
    if len(block) != 16:
        raise PinBlockError(f"format 4 PIN block must be 16 bytes, got {len(block)}")
    intermediate = xor(aes_decrypt(key, block), _format4_pan_field(pan))
    return decode_format4_pin_field(aes_decrypt(key, intermediate))


def encipher_tdes(key: bytes, clear_block: bytes) -> bytes:
    """TDES-ECB encipher an 8-byte clear block (the DUKPT PIN variant key, X9.24-1 A.4)."""
    if len(clear_block) != 8:
        raise PinBlockError(f"PIN block must be 8 bytes, got {len(clear_block)}")
    return tdes_encrypt(key, clear_block)


def decipher_tdes(key: bytes, block: bytes) -> bytes:
    if len(block) != 8:
        raise PinBlockError(f"PIN block must be 8 bytes, got {len(block)}")
    return tdes_decrypt(key, block)
