"""Verify a firmware bundle: signature, manifest, every payload byte, every archive byte.

Checks, in the order their failure is reported (the first failure is the reason):

1. the archive is strict ustar holding only plain files with safe relative names
   (no ``..``, no absolute path, no symlink, hard link, device, FIFO or directory);
2. it starts with ``manifest.json`` then ``manifest.sig``;
3. the Ed25519 signature of the exact manifest bytes holds under the trusted key;
4. the manifest is canonical and well-formed, and names that key;
5. the payload is exactly the manifest's file list — none missing, none extra — and
   every file has the listed size and SHA-256;
6. the archive is the canonical encoding of what was checked (payload in manifest
   order), so no byte of the file — headers, padding, trailer — is outside what the
   signature vouches for.

Nothing is trusted before step 3 except to report a useful reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from Crypto.PublicKey.ECC import EccKey

from terminal.update import manifest as manifest_codec
from terminal.update import signing, ustar
from terminal.update.build import MANIFEST_NAME, PAYLOAD_PREFIX, SIGNATURE_NAME
from terminal.update.errors import BundleRejected
from terminal.update.manifest import Manifest

MAX_BUNDLE = 256 << 20  # a handset release is a few MB; refuse to load anything absurd


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    manifest: Manifest
    files: dict[str, bytes]  # payload path -> content, every one checked
    manifest_bytes: bytes  # exactly what was signed
    signature: bytes


def read_bundle(path: str | Path) -> bytes:
    """The bundle's bytes, or BundleRejected naming why they cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BUNDLE + 1)
    except OSError as error:
        raise BundleRejected(f"cannot read bundle: {error.strerror or error}") from None
    if len(data) > MAX_BUNDLE:
        raise BundleRejected(f"bundle larger than {MAX_BUNDLE >> 20} MiB")
    return data


def verify_file(path: str | Path, key: EccKey | None = None) -> VerifiedBundle:
    """Read and verify the bundle at ``path`` under ``key`` (default: the pinned key)."""
    return verify_bytes(read_bundle(path), key)


def verify_bytes(data: bytes, key: EccKey | None = None) -> VerifiedBundle:
    """Verify bundle bytes; raise BundleRejected with the first reason it fails."""
    trusted = key if key is not None else signing.pinned_public_key()
    if not data:
        raise BundleRejected("bundle is empty")
    entries = ustar.decode(data)
    raw, signature, payload = _split(entries)
    manifest = check_signed_manifest(raw, signature, trusted)
    files = _payload_files(payload)
    check_payload(manifest, files)
    canonical = [
        *entries[:2],
        *(ustar.Entry(PAYLOAD_PREFIX + f.path, files[f.path]) for f in manifest.files),
    ]
    if ustar.encode(canonical, manifest.created_at) != data:
        raise BundleRejected("bundle is not in canonical form (bytes outside the signed content)")
    return VerifiedBundle(manifest, files, raw, signature)


def _split(entries: list[ustar.Entry]) -> tuple[bytes, bytes, list[ustar.Entry]]:
    if not entries or entries[0].name != MANIFEST_NAME:
        raise BundleRejected(f"{MANIFEST_NAME} missing or not the first entry")
    if len(entries) < 2 or entries[1].name != SIGNATURE_NAME:
        raise BundleRejected(f"{SIGNATURE_NAME} missing or not the second entry")
    signature = entries[1].data
    if len(signature) != signing.SIGNATURE_SIZE:
        raise BundleRejected(f"{SIGNATURE_NAME} is not a 64-byte Ed25519 signature")
    return entries[0].data, signature, entries[2:]


def _payload_files(payload: list[ustar.Entry]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for entry in payload:
        if not entry.name.startswith(PAYLOAD_PREFIX):
            raise BundleRejected(f"extra file: {entry.name}")
        found[entry.name[len(PAYLOAD_PREFIX) :]] = entry.data
    return found


def check_payload(manifest: Manifest, found: dict[str, bytes]) -> None:
    """``found`` (path -> bytes) is exactly the manifest's files, sizes and hashes."""
    listed = {f.path for f in manifest.files}
    for item in manifest.files:
        if item.path not in found:
            raise BundleRejected(f"missing file: {item.path}")
    for name in found:
        if name not in listed:
            raise BundleRejected(f"extra file: {name}")
    for item in manifest.files:
        data = found[item.path]
        if len(data) != item.size:
            raise BundleRejected(f"size mismatch: {item.path}")
        if hashlib.sha256(data).hexdigest() != item.sha256:
            raise BundleRejected(f"hash mismatch: {item.path}")


def check_signed_manifest(raw: bytes, signature: bytes, trusted: EccKey) -> Manifest:
    """Steps 3 and 4: the signature over ``raw`` holds and the manifest is well-formed."""
    if not signing.verify_signature(trusted, raw, signature):
        raise BundleRejected("signature does not verify" + _key_hint(raw, trusted))
    manifest = manifest_codec.decode(raw)
    if manifest.signing_key != signing.fingerprint(trusted):
        raise BundleRejected("manifest names a different signing key than the one that verified")
    return manifest


def _key_hint(raw: bytes, trusted: EccKey) -> str:
    """Name the signer when the (unverified) manifest says another key signed it."""
    try:
        claimed = manifest_codec.decode(raw).signing_key
    except BundleRejected:
        return ""
    expected = signing.fingerprint(trusted)
    if claimed == expected:
        return ""
    return f" (bundle names signing key {claimed[:16]}, trusted key is {expected[:16]})"
