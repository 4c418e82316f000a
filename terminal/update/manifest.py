"""The bundle manifest: what a bundle claims to hold, in one canonical JSON form.

The signature covers the exact manifest bytes, and the verifier accepts only the
canonical encoding (sorted keys, no spaces, ASCII, one trailing newline), so one
manifest has one byte string and a parser quirk (duplicate keys, odd number forms)
cannot make two readers disagree about what was signed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from terminal.update.errors import BundleRejected
from terminal.update.ustar import check_path

FORMAT = "posterm-bundle"
FORMAT_VERSION = 1
PRODUCT = "posterm"
MAX_MANIFEST = 1 << 20
# platform -> the top-level packages its payload carries (sim/ only for the simulator).
PLATFORMS: dict[str, tuple[str, ...]] = {
    "linux-aarch64": ("emv", "hal", "keys", "terminal"),
    "linux-armv7l": ("emv", "hal", "keys", "terminal"),
    "linux-x86_64": ("emv", "hal", "keys", "terminal"),
    "sim": ("emv", "hal", "keys", "sim", "terminal"),
}
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KEYS = {"format", "format_version", "product", "version", "platform", "created_at"}
_KEYS |= {"signing_key", "files"}


@dataclass(frozen=True, slots=True)
class PayloadFile:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    version: str
    platform: str
    created_at: int  # seconds since the epoch, UTC
    signing_key: str  # SHA-256 of the raw Ed25519 public key, hex
    files: tuple[PayloadFile, ...]
    product: str = PRODUCT

    def encode(self) -> bytes:
        """The canonical bytes that get signed."""
        document = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "product": self.product,
            "version": self.version,
            "platform": self.platform,
            "created_at": format_time(self.created_at),
            "signing_key": self.signing_key,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return canonical_json(document)


def valid_version(version: str) -> bool:
    """Digits and dots, then an optional lower-case suffix (``1.2.0``, ``1.3rc1``)."""
    return _VERSION.match(version) is not None


def canonical_json(document: Any) -> bytes:
    return (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode()


def format_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> int:
    """ISO 8601 UTC ``YYYY-MM-DDTHH:MM:SSZ`` to epoch seconds (ValueError otherwise)."""
    return int(datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC).timestamp())


def decode(raw: bytes) -> Manifest:
    """Parse and validate manifest bytes; any deviation is BundleRejected."""
    if len(raw) > MAX_MANIFEST:
        raise BundleRejected("manifest malformed: larger than 1 MiB")
    try:
        document = json.loads(raw.decode("ascii"), object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise BundleRejected("manifest malformed: nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise BundleRejected(f"manifest malformed: not JSON ({_short(error)})") from None
    manifest = _manifest(document)
    if manifest.encode() != raw:
        raise BundleRejected("manifest malformed: not in canonical form")
    return manifest


def _manifest(document: Any) -> Manifest:
    if not isinstance(document, dict):
        raise _bad("not a JSON object")
    if set(document) != _KEYS:
        missing, extra = sorted(_KEYS - set(document)), sorted(set(document) - _KEYS)
        raise _bad(f"missing {missing}" if missing else f"unknown keys {extra}")
    if document["format"] != FORMAT:
        raise _bad(f"format is not {FORMAT!r}")
    if document["format_version"] != FORMAT_VERSION or type(document["format_version"]) is not int:
        raise BundleRejected(f"unsupported bundle format version {document['format_version']!r}")
    if document["product"] != PRODUCT:
        raise BundleRejected(f"bundle is for product {document['product']!r}, not {PRODUCT}")
    version = _text(document, "version")
    if not valid_version(version):
        raise _bad(f"version {version!r}")
    platform = _text(document, "platform")
    if platform not in PLATFORMS:
        raise _bad(f"unknown platform {platform!r}")
    try:
        created_at = parse_time(_text(document, "created_at"))
    except ValueError:
        raise _bad("created_at is not YYYY-MM-DDTHH:MM:SSZ") from None
    signing_key = _text(document, "signing_key")
    if not _SHA256.match(signing_key):
        raise _bad("signing_key is not a SHA-256 hex digest")
    return Manifest(version, platform, created_at, signing_key, _files(document["files"]))


def _files(value: Any) -> tuple[PayloadFile, ...]:
    if not isinstance(value, list) or not value:
        raise _bad("files is not a non-empty list")
    files: list[PayloadFile] = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"path", "size", "sha256"}:
            raise _bad("a files entry is not {path, size, sha256}")
        path, size, digest = item["path"], item["size"], item["sha256"]
        if not isinstance(path, str):
            raise _bad("a files path is not a string")
        check_path(path)
        if type(size) is not int or size < 0:
            raise _bad(f"size of {path}")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise _bad(f"sha256 of {path}")
        if files and path <= files[-1].path:
            raise _bad(f"files not sorted or duplicated at {path}")
        files.append(PayloadFile(path, size, digest))
    return tuple(files)


def _text(document: dict[str, Any], key: str) -> str:
    value = document[key]
    if not isinstance(value, str):
        raise _bad(f"{key} is not a string")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _bad(what: str) -> BundleRejected:
    return BundleRejected(f"manifest malformed: {what}")


def _short(error: Exception) -> str:
    return str(error).splitlines()[0][:80]
