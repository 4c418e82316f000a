"""ISO/IEC 9797-1 MACs and AES-CMAC (keys.mac): published vectors and psec differential."""

from __future__ import annotations

import psec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.errors import KeyLengthError, MacError
from keys.mac import aes_cmac, iso9797_mac, pad, retail_mac, verify

RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MESSAGE = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)


@pytest.mark.parametrize(
    ("length", "tag"),
    [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ],
)
def test_aes_cmac_sp800_38b_examples(length: int, tag: str) -> None:
    """NIST SP 800-38B Appendix D.1 (AES-128) = RFC 4493 section 4 examples 1-4."""
    assert aes_cmac(RFC4493_KEY, RFC4493_MESSAGE[:length]).hex() == tag


def test_cbc_mac_algorithm_1_fips113_example() -> None:
    """FIPS 113 / ANSI X9.9 DES CBC-MAC example ("7654321 Now is the time for "),
    key 0123456789ABCDEF, zero padding -> F1D30F68..., as in BouncyCastle MacTest."""
    data = bytes.fromhex("37363534333231204e6f77206973207468652074696d6520666f7220")
    mac = iso9797_mac(bytes.fromhex("0123456789ABCDEF"), data, algorithm=1, padding=1)
    assert mac.hex().upper() == "F1D30F6849312CA4"


def test_retail_mac_bouncycastle_example() -> None:
    """ISO 9797-1 alg 3 (X9.19): BouncyCastle ISO9797Alg3MacTest, key 7CA1...376E,
    "Hello World !!!!" -> F09B856213BAB83B."""
    key = bytes.fromhex("7CA110454A1A6E570131D9619DC1376E")
    assert retail_mac(key, b"Hello World !!!!").hex().upper() == "F09B856213BAB83B"


def test_retail_mac_psec_docstring_example_padding_2() -> None:
    """psec.mac.generate_retail_mac docstring: K 0123456789ABCDEF, K' FEDCBA9876543210
    (single-DES halves), data 1234567890ABCDEF, padding 2 - cross-checked against psec."""
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    data = bytes.fromhex("1234567890ABCDEF")
    expected = psec.mac.generate_retail_mac(key[:8], key[8:], data, padding=2)
    assert retail_mac(key, data, padding=2) == expected


def test_padding_methods() -> None:
    """ISO/IEC 9797-1 6.3: method 1 zero-fills (empty -> one block), method 2 adds 80."""
    assert pad(b"", 1) == bytes(8)
    assert pad(b"\x01" * 8, 1) == b"\x01" * 8
    assert pad(b"\x01", 2) == b"\x01\x80" + bytes(6)
    assert pad(b"\x01" * 8, 2) == b"\x01" * 8 + b"\x80" + bytes(7)
    with pytest.raises(MacError):
        pad(b"", 3)


def test_truncation_and_errors() -> None:
    key = bytes(range(16))
    assert retail_mac(key, b"abc", length=4) == retail_mac(key, b"abc")[:4]
    with pytest.raises(MacError):
        retail_mac(key, b"abc", length=3)
    with pytest.raises(KeyLengthError):
        retail_mac(key[:8], b"abc")
    with pytest.raises(MacError):
        iso9797_mac(key, b"abc", algorithm=2)
    with pytest.raises(MacError):
        aes_cmac(key, b"", length=4)


def test_verify_is_strict() -> None:
    verify(b"\x01\x02", b"\x01\x02")
    with pytest.raises(MacError):
        verify(b"\x01\x02", b"\x01\x03")


@settings(max_examples=200, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16),
    data=st.binary(max_size=300),
    padding=st.sampled_from([1, 2]),
)
def test_retail_mac_matches_psec(key: bytes, data: bytes, padding: int) -> None:
    """Differential: keys.mac.retail_mac == psec.mac.generate_retail_mac on random input."""
    expected = psec.mac.generate_retail_mac(key[:8], key[8:], data, padding=padding)
    assert retail_mac(key, data, padding=padding) == expected


@settings(max_examples=100, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16).filter(lambda k: k[:8] != k[8:]),
    data=st.binary(max_size=200),
    padding=st.sampled_from([1, 2]),
)
def test_cbc_mac_tdes_matches_psec(key: bytes, data: bytes, padding: int) -> None:
    """Differential: algorithm 1 with a TDES key == psec.mac.generate_cbc_mac."""
    expected = psec.mac.generate_cbc_mac(key, data, padding=padding)
    assert iso9797_mac(key, data, algorithm=1, padding=padding) == expected
