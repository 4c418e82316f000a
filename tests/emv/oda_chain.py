"""A test-only CA -> issuer -> ICC key chain, signed field by field from Book 2.

Independent of sim/card on purpose: two builders written from the tables must
agree with the kernel. Keys are generated once per test session (pycryptodome).
Every field can be overridden so each Book 2 check can be broken on its own.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from Crypto.PublicKey import RSA

from emv.oda.results import PublicKey


@dataclass(frozen=True)
class TestKey:
    modulus: int
    exponent: int
    private: int
    size: int

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.modulus.to_bytes(self.size, "big"), exponent_bytes(self.exponent))

    @property
    def modulus_bytes(self) -> bytes:
        return self.modulus.to_bytes(self.size, "big")

    def sign(self, block: bytes) -> bytes:
        assert len(block) == self.size
        return pow(int.from_bytes(block, "big"), self.private, self.modulus).to_bytes(
            self.size, "big"
        )

    def decrypt(self, data: bytes) -> bytes:
        return self.sign(data)


def exponent_bytes(e: int) -> bytes:
    return b"\x03" if e == 3 else e.to_bytes(3, "big")


@functools.cache
def key(bits: int, e: int) -> TestKey:
    k = RSA.generate(bits, e=e)
    return TestKey(int(k.n), int(k.e), int(k.d), bits // 8)


def ca_key() -> TestKey:
    return key(1408, 3)  # N_CA = 176


def issuer_key() -> TestKey:
    return key(1280, 3)  # N_I = 160 > 176 - 36: remainder of 20 bytes


def icc_key() -> TestKey:
    return key(1024, 65537)  # N_IC = 128 > 160 - 42: remainder of 10 bytes


def pin_key() -> TestKey:
    return key(1024, 3)


def _block(signer: TestKey, fields: Mapping[str, Any], body: bytes, hash_input: bytes) -> bytes:
    digest = fields.get("hash") or hashlib.sha1(hash_input).digest()
    block = (
        bytes([fields.get("header", 0x6A)]) + body + digest + bytes([fields.get("trailer", 0xBC)])
    )
    return signer.sign(block)


def split(modulus: bytes, room: int) -> tuple[bytes, bytes]:
    if len(modulus) <= room:
        return modulus + b"\xbb" * (room - len(modulus)), b""
    return modulus[:room], modulus[room:]


# EMV 4.4 Book 2, Tables 2 and 6
def issuer_certificate(
    ca: TestKey, issuer: TestKey, issuer_id: bytes, **fields: Any
) -> tuple[bytes, bytes]:
    leftmost, remainder = split(issuer.modulus_bytes, ca.size - 36)
    exponent = exponent_bytes(issuer.exponent)
    body = (
        bytes([fields.get("format", 0x02)])
        + issuer_id
        + fields.get("expiry", b"\x12\x49")
        + fields.get("serial", b"\x00\x00\x01")
        + bytes([fields.get("hash_algorithm", 0x01), fields.get("key_algorithm", 0x01)])
        + bytes(
            [fields.get("key_length", issuer.size), fields.get("exponent_length", len(exponent))]
        )
        + leftmost
    )
    return _block(ca, fields, body, body + remainder + exponent), remainder


# EMV 4.4 Book 2, Tables 11 and 14 (static_data None: PIN key, Table 23)
def icc_certificate(
    issuer: TestKey, icc: TestKey, pan: bytes, static_data: bytes | None, **fields: Any
) -> tuple[bytes, bytes]:
    leftmost, remainder = split(icc.modulus_bytes, issuer.size - 42)
    exponent = exponent_bytes(icc.exponent)
    padded_pan = bytes.fromhex(pan.hex().upper().rstrip("F").ljust(20, "F"))
    body = (
        bytes([fields.get("format", 0x04)])
        + fields.get("recovered_pan", padded_pan)
        + fields.get("expiry", b"\x12\x49")
        + fields.get("serial", b"\x00\x00\x02")
        + bytes([fields.get("hash_algorithm", 0x01), fields.get("key_algorithm", 0x01)])
        + bytes([fields.get("key_length", icc.size), fields.get("exponent_length", len(exponent))])
        + leftmost
    )
    return _block(
        issuer, fields, body, body + remainder + exponent + (static_data or b"")
    ), remainder


# EMV 4.4 Book 2, Tables 3 and 7
def signed_static_data(
    issuer: TestKey, static_data: bytes, dac: bytes = b"\xda\xc1", **fields: Any
) -> bytes:
    body = bytes([fields.get("format", 0x03), fields.get("hash_algorithm", 0x01)]) + dac
    body += b"\xbb" * (issuer.size - 26)
    return _block(issuer, fields, body, body + static_data)


def _dynamic(icc: TestKey, dynamic: bytes, signed_extra: bytes, **fields: Any) -> bytes:
    length = fields.get("dynamic_length", len(dynamic))
    body = bytes([fields.get("format", 0x05), fields.get("hash_algorithm", 0x01), length]) + dynamic
    body += b"\xbb" * (icc.size - len(dynamic) - 25)
    return _block(icc, fields, body, body + signed_extra)


# EMV 4.4 Book 2, Tables 15 and 17
def signed_dynamic_data(icc: TestKey, number: bytes, ddol_data: bytes, **fields: Any) -> bytes:
    return _dynamic(icc, bytes([len(number)]) + number, ddol_data, **fields)


# EMV 4.4 Book 2, Tables 18 and 19
def cda_signature(
    icc: TestKey, number: bytes, cid: int, cryptogram: bytes, tdhc: bytes, un: bytes, **fields: Any
) -> bytes:
    dynamic = bytes([len(number)]) + number + bytes([cid]) + cryptogram + tdhc
    return _dynamic(icc, dynamic, un, **fields)
