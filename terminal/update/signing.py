"""Ed25519 keys and signatures for firmware bundles (RFC 8032, pure Ed25519).

One verification function, :func:`verify_signature`, serves the bundle verifier and
the RFC 8032 test vectors alike, so the vectors prove the path the terminal really
uses. The pinned public key ships in ``terminal/data/update_signing_pub.pem``; the
one in the repository is a DEVELOPMENT key and is replaced at manufacturing (see
docs/decisions/firmware-bundles.md).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from Crypto.PublicKey import ECC
from Crypto.PublicKey.ECC import EccKey
from Crypto.Signature import eddsa

from terminal.update.errors import UpdateUsageError

PINNED_KEY_RESOURCE = "update_signing_pub.pem"
SIGNATURE_SIZE = 64  # RFC 8032, 5.1.6: R (32 bytes) || S (32 bytes)
ENV_SIGNING_KEY = "POSTERM_SIGNING_KEY"
# Development signing key: lives in the test tree, never in a bundle payload.
DEV_PRIVATE_KEY = Path("tests/terminal/data/update_signing_dev_private.pem")


@functools.cache
def pinned_public_key() -> EccKey:
    """The public key this firmware trusts for updates (shipped in terminal/data)."""
    pem = resources.files("terminal.data").joinpath(PINNED_KEY_RESOURCE).read_bytes()
    return _import(pem, "pinned key terminal/data/" + PINNED_KEY_RESOURCE, private=False)


def load_public_key(path: str | Path) -> EccKey:
    """An Ed25519 public key from a PEM or DER file (``--pubkey``)."""
    return _import(_read(path), str(path), private=False)


def import_public_pem(pem: bytes, where: str) -> EccKey:
    """An Ed25519 public key from PEM (or DER) bytes already in memory."""
    return _import(pem, where, private=False)


def load_private_key(path: str | Path) -> EccKey:
    """An Ed25519 private key from a PKCS#8 PEM or DER file (``--signing-key``)."""
    return _import(_read(path), str(path), private=True)


def public_key_from_raw(raw: bytes) -> EccKey:
    """A public key from its 32-byte RFC 8032 encoding (test vectors)."""
    try:
        return eddsa.import_public_key(raw)
    except ValueError:
        raise UpdateUsageError("not a 32-byte Ed25519 public key") from None


def private_key_from_seed(seed: bytes) -> EccKey:
    """A private key from its 32-byte RFC 8032 secret (test vectors)."""
    try:
        return eddsa.import_private_key(seed)
    except ValueError:
        raise UpdateUsageError("not a 32-byte Ed25519 secret") from None


def raw_public(key: EccKey) -> bytes:
    """The 32-byte RFC 8032 encoding of the public half of ``key``."""
    return key.public_key().export_key(format="raw")


def fingerprint(key: EccKey) -> str:
    """SHA-256 of the raw public key, hex: names the key in manifests and messages."""
    return hashlib.sha256(raw_public(key)).hexdigest()


def sign(key: EccKey, message: bytes) -> bytes:
    """Pure Ed25519 signature (RFC 8032, 5.1.6) of ``message``."""
    return bytes(eddsa.new(key, "rfc8032").sign(message))


def verify_signature(key: EccKey, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` (RFC 8032, 5.1.7)."""
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        eddsa.new(key.public_key(), "rfc8032").verify(message, signature)
    except ValueError:
        return False
    return True


def resolve_signing_key(given: str | None, checkouts: Sequence[Path]) -> tuple[EccKey, bool]:
    """The key to sign with and whether it is the development key.

    ``--signing-key`` wins, then ``$POSTERM_SIGNING_KEY`` (a file path, never the key
    itself: environments leak), then the development key of the first source checkout
    in ``checkouts`` that has one.
    """
    path = given or os.environ.get(ENV_SIGNING_KEY)
    if path:
        return load_private_key(path), False
    for root in checkouts:
        if (root / DEV_PRIVATE_KEY).is_file():
            return load_private_key(root / DEV_PRIVATE_KEY), True
    raise UpdateUsageError(f"no signing key: give --signing-key FILE or set {ENV_SIGNING_KEY}")


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UpdateUsageError(f"cannot read key file {path}: {error.strerror}") from None


def _import(encoded: bytes, where: str, *, private: bool) -> EccKey:
    try:
        key = ECC.import_key(encoded)
    except (ValueError, IndexError, TypeError, UnicodeDecodeError):
        raise UpdateUsageError(f"{where}: not an Ed25519 key in PEM or DER form") from None
    if key.curve != "Ed25519":
        raise UpdateUsageError(f"{where}: key is {key.curve}, not Ed25519")
    if private and not key.has_private():
        raise UpdateUsageError(f"{where}: holds no private key")
    if not private and key.has_private():
        # A private key where a public one belongs is a handling error worth stopping.
        raise UpdateUsageError(f"{where}: is a private key; give the public key")
    return key
