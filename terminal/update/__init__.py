"""Signed firmware bundles: build one from the source tree, verify it, install it.

A bundle (``posterm-<version>-<platform>.ptb``) is a canonical ustar archive holding
``manifest.json`` (product, version, platform, creation time, signing-key fingerprint
and every payload file with its size and SHA-256), ``manifest.sig`` (Ed25519 over the
exact manifest bytes) and the payload under ``payload/``. The terminal accepts a
bundle only under its pinned public key. See docs/decisions/firmware-bundles.md.
"""

from __future__ import annotations

from terminal.update.build import BuiltBundle, build_bundle, bundle_name, encode_bundle
from terminal.update.errors import BundleRejected, UpdateError, UpdateUsageError
from terminal.update.manifest import PLATFORMS, Manifest, PayloadFile
from terminal.update.verify import VerifiedBundle, verify_bytes, verify_file

__all__ = [
    "PLATFORMS",
    "BuiltBundle",
    "BundleRejected",
    "Manifest",
    "PayloadFile",
    "UpdateError",
    "UpdateUsageError",
    "VerifiedBundle",
    "build_bundle",
    "bundle_name",
    "encode_bundle",
    "verify_bytes",
    "verify_file",
]
