"""ISO 9564-1 PIN blocks (keys.pinblock): published examples, psec differential, round trips."""

from __future__ import annotations

import itertools

import psec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import pinblock
from keys.errors import KeyLengthError, PinBlockError

pins = st.text(alphabet="0123456789", min_size=4, max_size=12)
pans = st.text(alphabet="0123456789", min_size=13, max_size=19)
short_pans = st.text(alphabet="0123456789", min_size=8, max_size=19)


def counting_random(n: int) -> bytes:
    """Deterministic 'random' source for tests: 0, 1, 2, ..."""
    return bytes(itertools.islice(itertools.cycle(range(256)), n))


def test_format0_x924_annex_a_block() -> None:
    """X9.24-1:2009 A.4: PIN 1234, PAN 4012345678909 -> format 0 block 041274EDCBA9876F."""
    block = pinblock.encode_clear(0, "1234", "4012345678909")
    assert block.hex().upper() == "041274EDCBA9876F"
    assert pinblock.decode_clear(0, block, "4012345678909") == "1234"


def test_format0_psec_docstring_example() -> None:
    """psec.pinblock.encode_pinblock_iso_0 docstring: 1234 / 5544332211009966."""
    assert pinblock.encode_clear(0, "1234", "5544332211009966").hex().upper() == "041277CDDEEFF669"


def test_format1_and_3_layout_with_injected_fill() -> None:
    """ISO 9564-1 9.3.2 / 9.3.4 layouts, with a deterministic fill source."""
    block1 = pinblock.encode_clear(1, "1234", random_bytes=counting_random)
    assert block1.hex().upper() == "141234" + "0123456789"
    block3 = pinblock.encode_clear(3, "1234", "4012345678909", random_bytes=counting_random)
    clear3 = bytes(a ^ b for a, b in zip(block3, bytes.fromhex("0000401234567890"), strict=True))
    # fill bytes 0,1,2,... map to A..F by value mod 6
    assert clear3.hex().upper() == "341234" + "ABCDEFABCD"
    assert pinblock.decode_clear(3, block3, "4012345678909") == "1234"


def test_format4_fields_x924_3_supplement() -> None:
    """X9.24-3:2017 supplement, format 4 calculation (as in openemv pinblock_format4_test.c):
    PIN 1234 -> PIN field 441234AAAAAAAAAA+random; PAN 4111111111111111 -> PAN field
    44111111111111111000...; short PAN 123456789 -> 0000123456789000..."""
    field = pinblock.encode_format4_pin_field("1234", random_bytes=counting_random)
    assert field[:8].hex().upper() == "441234AAAAAAAAAA"
    assert field[8:] == bytes(range(8))
    assert pinblock._format4_pan_field("4111111111111111").hex().upper() == (
        "4411111111111111" + "1000000000000000"
    )
    assert pinblock._format4_pan_field("123456789").hex().upper() == "0000123456789" + "0" * 19


def test_format4_psec_docstring_example() -> None:
    """psec.pinblock.decipher_pinblock_iso_4 docstring: key 0011..EEFF, PAN 1234567890123456,
    block E4BE5B623AF7E006AC319E5B93544564 -> PIN 1234."""
    key = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    block = bytes.fromhex("E4BE5B623AF7E006AC319E5B93544564")
    assert pinblock.decipher_format4(key, block, "1234567890123456") == "1234"


@pytest.mark.parametrize("bad_pin", ["123", "1234567890123", "12a4", "", "١٢٣٤"])
def test_bad_pin_raises_without_echo(bad_pin: str) -> None:
    with pytest.raises(PinBlockError) as info:
        pinblock.encode_clear(0, bad_pin, "4012345678909")
    assert not bad_pin or bad_pin not in str(info.value)


@pytest.mark.parametrize("bad_pan", ["", "1234567", "12345678901234567890", "40123456789X9"])
def test_bad_pan_raises_without_echo(bad_pan: str) -> None:
    with pytest.raises(PinBlockError) as info:
        pinblock.encode_clear(0, "1234", bad_pan)
    assert not bad_pan or bad_pan not in str(info.value)


def test_malformed_blocks_are_rejected() -> None:
    pan = "4012345678909"
    good = bytearray(pinblock.encode_clear(0, "1234", pan))
    with pytest.raises(PinBlockError):
        pinblock.decode_clear(0, bytes(good[:7]), pan)
    with pytest.raises(PinBlockError):  # wrong format nibble
        pinblock.decode_clear(3, bytes(good), pan)
    broken = bytearray(good)
    broken[7] ^= 0x01  # fill no longer F
    with pytest.raises(PinBlockError):
        pinblock.decode_clear(0, bytes(broken), pan)
    broken = bytearray(good)
    broken[0] ^= 0x0F  # length nibble 0x04 -> 0x0B, swallows fill
    with pytest.raises(PinBlockError):
        pinblock.decode_clear(0, bytes(broken), pan)
    f3 = bytearray(pinblock.encode_clear(3, "1234", pan))
    f3[7] = (f3[7] & 0xF0) | ((f3[7] & 0x0F) ^ 0x9)  # A..F nibble ^ 9 -> 3..6 digits
    with pytest.raises(PinBlockError):
        pinblock.decode_clear(3, bytes(f3), pan)
    with pytest.raises(PinBlockError):
        pinblock.encode_clear(2, "1234", pan)
    key = bytes(16)
    block = pinblock.encipher_format4(key, "1234", "4111111111111111")
    with pytest.raises(PinBlockError):  # wrong PAN breaks the PIN field structure
        pinblock.decipher_format4(key, block, "4111111111111112")
    with pytest.raises(KeyLengthError):
        pinblock.encipher_format4(bytes(15), "1234", "4111111111111111")


@settings(max_examples=150, deadline=None)
@given(pin=pins, pan=pans)
def test_format0_matches_psec(pin: str, pan: str) -> None:
    """Differential: format 0 encode/decode equal psec both ways."""
    ours = pinblock.encode_clear(0, pin, pan)
    assert ours == psec.pinblock.encode_pinblock_iso_0(pin, pan)
    assert psec.pinblock.decode_pinblock_iso_0(ours, pan) == pin


@settings(max_examples=150, deadline=None)
@given(pin=pins, pan=pans)
def test_format3_interoperates_with_psec(pin: str, pan: str) -> None:
    """Differential: our format 3 decodes in psec and psec's decodes in ours (random fill)."""
    assert psec.pinblock.decode_pinblock_iso_3(pinblock.encode_clear(3, pin, pan), pan) == pin
    assert pinblock.decode_clear(3, psec.pinblock.encode_pinblock_iso_3(pin, pan), pan) == pin


@settings(max_examples=100, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32),
    pin=pins,
    pan=pans,
)
def test_format4_interoperates_with_psec(key: bytes, pin: str, pan: str) -> None:
    """Differential: format 4 enciphered by us deciphers in psec, and vice versa."""
    assert (
        psec.pinblock.decipher_pinblock_iso_4(key, pinblock.encipher_format4(key, pin, pan), pan)
        == pin
    )
    assert (
        pinblock.decipher_format4(key, psec.pinblock.encipher_pinblock_iso_4(key, pin, pan), pan)
        == pin
    )


@settings(max_examples=150, deadline=None)
@given(
    fmt=st.sampled_from([0, 1, 3]),
    pin=pins,
    pan=short_pans,
    seed=st.binary(min_size=32, max_size=32),
)
def test_clear_round_trip(fmt: int, pin: str, pan: str, seed: bytes) -> None:
    """Property: decode(encode(pin)) == pin for every format, PIN length and PAN length."""
    source = itertools.cycle(seed)

    def rnd(n: int) -> bytes:
        return bytes(next(source) for _ in range(n))

    block = pinblock.encode_clear(fmt, pin, pan, random_bytes=rnd)
    assert pinblock.decode_clear(fmt, block, pan) == pin


@settings(max_examples=200, deadline=None)
@given(fmt=st.sampled_from([0, 1, 3]), block=st.binary(min_size=8, max_size=8))
def test_decode_random_blocks_never_crashes(fmt: int, block: bytes) -> None:
    """Property: arbitrary bytes either decode to a 4-12 digit PIN or raise PinBlockError."""
    try:
        pin = pinblock.decode_clear(fmt, block, "4012345678909")
    except PinBlockError:
        return
    assert 4 <= len(pin) <= 12 and pin.isdigit()


def test_fill_is_random_by_default() -> None:
    blocks = {pinblock.encode_clear(3, "1234", "4012345678909") for _ in range(20)}
    assert len(blocks) > 1
