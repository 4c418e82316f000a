"""The TEST ONLY RSA key pool of the simulator (sim/ca/test_keys.toml).

Keys are generated once and committed, so loading a profile costs a few RSA
private operations (certificates) rather than prime searches.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from Crypto.PublicKey import RSA

from sim.errors import SimError

KEY_FILE = Path(__file__).resolve().parent.parent / "ca" / "test_keys.toml"


class UnknownKeyError(SimError):
    """A profile names a key that is not in the test key pool."""


@dataclass(frozen=True, slots=True)
class RsaKey:
    """An RSA key pair; ``repr`` never shows the private exponent."""

    name: str
    modulus: int
    exponent: int
    private_exponent: int
    rid: str = ""
    index: str = ""
    expiry: str = ""
    p: int = 0  # primes, for CRT (recovered from n, e, d at load)
    q: int = 0

    def __repr__(self) -> str:  # never the private exponent or the primes
        return f"RsaKey({self.name!r}, {self.size * 8} bits)"

    @property
    def size(self) -> int:
        """Modulus length in bytes (N_CA, N_I, N_IC of Book 2)."""
        return (self.modulus.bit_length() + 7) // 8

    @property
    def modulus_bytes(self) -> bytes:
        return self.modulus.to_bytes(self.size, "big")

    @property
    def exponent_bytes(self) -> bytes:
        return self.exponent.to_bytes((self.exponent.bit_length() + 7) // 8, "big")

    def sign_raw(self, block: bytes) -> bytes:
        """The RSA private operation on a block of exactly ``size`` bytes (Book 2 A2.1)."""
        value = int.from_bytes(block, "big")
        if not self.p:
            return pow(value, self.private_exponent, self.modulus).to_bytes(self.size, "big")
        # CRT: four times fewer multiplications than one full-size exponentiation
        p, q = self.p, self.q
        m1 = pow(value, self.private_exponent % (p - 1), p)
        m2 = pow(value, self.private_exponent % (q - 1), q)
        h = (pow(q, -1, p) * (m1 - m2)) % p
        return (m2 + h * q).to_bytes(self.size, "big")

    def recover(self, block: bytes) -> bytes:
        """The public operation: what a terminal does to a certificate or signature."""
        value = int.from_bytes(block, "big")
        return pow(value, self.exponent, self.modulus).to_bytes(self.size, "big")


@functools.cache
def key_pool() -> dict[str, RsaKey]:
    """Every test key by name."""
    data = tomllib.loads(KEY_FILE.read_text())
    pool: dict[str, RsaKey] = {}
    for entry in data["keys"]:
        n, e, d = (int(entry[k], 16) for k in ("modulus", "exponent", "private_exponent"))
        primes = RSA.construct((n, e, d), consistency_check=False)
        pool[entry["name"]] = RsaKey(
            name=entry["name"],
            modulus=n,
            exponent=e,
            private_exponent=d,
            p=int(primes.p),
            q=int(primes.q),
            rid=entry.get("rid", ""),
            index=entry.get("index", ""),
            expiry=entry.get("expiry", ""),
        )
    return pool


def get_key(name: str) -> RsaKey:
    try:
        return key_pool()[name]
    except KeyError:
        raise UnknownKeyError(f"no test key named {name!r}") from None


def ca_key(rid: str, index: str) -> RsaKey:
    """The test CA key for a RID and CA public key index (tag 8F)."""
    for key in key_pool().values():
        if key.rid == rid.upper() and key.index == index.upper():
            return key
    raise UnknownKeyError(f"no test CA key {rid}/{index}")
