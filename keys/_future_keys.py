"""The future-key register walk shared by TDES DUKPT (X9.24-1 A.2) and AES DUKPT (X9.24-3 6.4).

Both originators keep one register per counter bit and step through counters the same
way; only the one-way child derivation, the counter width and the ones limit differ.
Register ``i`` belongs to counter bit ``1 << (bits - 1 - i)``.
"""

from __future__ import annotations

from collections.abc import Callable

from keys.errors import DukptError

Registers = list[bytes | None]


def valid(counter: int, bits: int, max_ones: int) -> bool:
    return 0 < counter < (1 << bits) and counter.bit_count() <= max_ones


def following(counter: int, bits: int, max_ones: int) -> int | None:
    """The next usable counter after ``counter``, or None when the space is exhausted."""
    candidate = counter + 1
    while candidate < (1 << bits):
        if candidate.bit_count() <= max_ones:
            return candidate
        candidate += candidate & -candidate  # skip the whole run sharing this prefix
    return None


def index_of(bit: int, bits: int) -> int:
    return bits - bit.bit_length()


def advance(
    counter: int,
    registers: Registers,
    child: Callable[[bytes, int], bytes],
    bits: int,
    max_ones: int,
) -> int:
    """New Key: derive the registers below the current key, erase it, return the next
    counter (0 when exhausted, every register then cleared). ``registers`` is mutated.

    ``child(parent_key, child_counter)`` is the one-way derivation of a future key.
    """
    low_bit = counter & -counter
    pointer = index_of(low_bit, bits)
    key = registers[pointer]
    if key is None:
        raise DukptError("current future-key register is empty")
    if counter.bit_count() < max_ones:
        bit = low_bit >> 1
        while bit:
            registers[index_of(bit, bits)] = child(key, counter | bit)
            bit >>= 1
        nxt = counter + 1
    else:
        nxt = counter + low_bit  # children would exceed the ones limit: skip them
    registers[pointer] = None
    if nxt >= 1 << bits:
        registers[:] = [None] * bits
        return 0
    return nxt


def registers_at(
    counter: int, bits: int, max_ones: int, key_for: Callable[[int], bytes]
) -> Registers:
    """The register contents a device holds when about to use ``counter``.

    The lowest set bit's register holds the current key; a higher bit ``b`` clear in the
    counter holds the key of (counter bits above ``b``) | ``b`` when that is usable;
    every other register has been used and erased.
    """
    low_bit = counter & -counter
    registers: Registers = [None] * bits
    for index in range(bits):
        bit = 1 << (bits - 1 - index)
        if bit == low_bit:
            registers[index] = key_for(counter)
        elif bit > low_bit and not counter & bit:
            target = (counter & ~((bit << 1) - 1)) | bit
            if valid(target, bits, max_ones):
                registers[index] = key_for(target)
    return registers


def pack(registers: Registers, key_length: int) -> bytes:
    """Bitmap (4 bytes) of live registers followed by their keys."""
    bitmap = 0
    body = b""
    for index, register in enumerate(registers):
        if register is not None:
            bitmap |= 1 << index
            body += register
    return bitmap.to_bytes(4, "big") + body


def unpack(blob: bytes, count: int, key_length: int) -> Registers | None:
    """Inverse of `pack`; None when the blob is malformed."""
    if len(blob) < 4:
        return None
    bitmap = int.from_bytes(blob[:4], "big")
    body = blob[4:]
    if bitmap >> count or len(body) != key_length * bitmap.bit_count():
        return None
    registers: Registers = []
    offset = 0
    for index in range(count):
        if bitmap >> index & 1:
            registers.append(body[offset : offset + key_length])
            offset += key_length
        else:
            registers.append(None)
    return registers
