"""Build a signed firmware bundle from a posterm source tree.

The payload is the source files posterm ships (the packages of the platform, plus
``setup.cfg``, ``pyproject.toml`` and ``README.md``), not a wheel: the handset runs
the release straight from its unpacked directory, so it needs no pip and no build
step, and the bundle is reproducible byte for byte from the tree and the creation
time (``SOURCE_DATE_EPOCH`` is honoured). Why, at length: docs/decisions/firmware-bundles.md.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from Crypto.PublicKey.ECC import EccKey

from terminal.update import signing, ustar
from terminal.update.errors import BundleRejected, UpdateUsageError
from terminal.update.manifest import PLATFORMS, Manifest, PayloadFile, valid_version

TOP_LEVEL_FILES = ("README.md", "pyproject.toml", "setup.cfg")
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info")
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
PAYLOAD_PREFIX = "payload/"
SUFFIX = ".ptb"


@dataclass(frozen=True, slots=True)
class BuiltBundle:
    path: Path
    manifest: Manifest
    # False when the payload pins a different key than the one that signed it: the
    # release would install, but would refuse every later bundle from this signer.
    signer_pinned: bool


def default_source_root() -> Path:
    """The checkout this posterm runs from (the directory holding ``terminal/``)."""
    return Path(__file__).resolve().parents[2]


def bundle_name(version: str, platform: str) -> str:
    return f"posterm-{version}-{platform}{SUFFIX}"


def source_version(root: Path) -> str:
    """The version in the tree's package metadata (``setup.cfg`` [metadata])."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(root / "setup.cfg", encoding="utf-8") as handle:
            parser.read_file(handle)
        name = parser.get("metadata", "name")
        version = parser.get("metadata", "version").strip()
    except (OSError, configparser.Error) as error:
        raise UpdateUsageError(f"{root} is not a posterm source tree ({error})") from None
    if name.strip() != "posterm":
        raise UpdateUsageError(f"{root} is not a posterm source tree (name = {name})")
    if not valid_version(version):
        raise UpdateUsageError(f"setup.cfg version {version!r} is not digits and dots + suffix")
    return version


def collect_payload(root: Path, platform: str) -> list[ustar.Entry]:
    """The files a ``platform`` bundle carries, sorted by path, read from ``root``."""
    if platform not in PLATFORMS:
        raise UpdateUsageError(f"unknown platform {platform!r} ({', '.join(PLATFORMS)})")
    paths = [
        name for name in TOP_LEVEL_FILES if (root / name).exists() or (root / name).is_symlink()
    ]
    for name in paths:
        if not stat.S_ISREG((root / name).lstat().st_mode):
            raise UpdateUsageError(f"source tree: {name} is not a regular file")
    for package in PLATFORMS[platform]:
        if not (root / package / "__init__.py").is_file():
            raise UpdateUsageError(f"{root} has no package {package}/")
        paths.extend(_walk(root, package))
    entries = []
    for rel in sorted(paths):
        try:
            ustar.check_path(rel)
        except BundleRejected:
            raise UpdateUsageError(f"source file name not allowed in a bundle: {rel!r}") from None
        entries.append(ustar.Entry(rel, (root / rel).read_bytes()))
    return entries


def _walk(root: Path, package: str) -> list[str]:
    found: list[str] = []
    for directory, dirnames, filenames in os.walk(root / package):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(SKIP_SUFFIXES)
        )
        for name in filenames:
            if name.startswith(".") or name.endswith(SKIP_SUFFIXES):
                continue
            path = Path(directory) / name
            mode = path.lstat().st_mode
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(mode):
                raise UpdateUsageError(f"source tree holds a symlink: {rel}")
            if not stat.S_ISREG(mode):
                raise UpdateUsageError(f"source tree holds a non-regular file: {rel}")
            found.append(rel)
        for name in dirnames:
            if (Path(directory) / name).is_symlink():
                rel = (Path(directory) / name).relative_to(root).as_posix()
                raise UpdateUsageError(f"source tree holds a symlink: {rel}")
    return found


def encode_bundle(
    payload: list[ustar.Entry],
    *,
    version: str,
    platform: str,
    created_at: int,
    key: EccKey,
) -> tuple[bytes, Manifest]:
    """Manifest, signature and payload as one canonical ustar archive."""
    manifest = Manifest(
        version=version,
        platform=platform,
        created_at=created_at,
        signing_key=signing.fingerprint(key),
        files=tuple(
            PayloadFile(e.name, len(e.data), hashlib.sha256(e.data).hexdigest()) for e in payload
        ),
    )
    raw = manifest.encode()
    entries = [
        ustar.Entry(MANIFEST_NAME, raw),
        ustar.Entry(SIGNATURE_NAME, signing.sign(key, raw)),
        *(ustar.Entry(PAYLOAD_PREFIX + e.name, e.data) for e in payload),
    ]
    return ustar.encode(entries, created_at), manifest


def build_bundle(
    out_dir: Path,
    platform: str,
    key: EccKey,
    *,
    source_root: Path | None = None,
    created_at: int | None = None,
) -> BuiltBundle:
    """Write ``posterm-<version>-<platform>.ptb`` into ``out_dir`` (atomically)."""
    root = source_root or default_source_root()
    version = source_version(root)
    payload = collect_payload(root, platform)
    when = default_created_at() if created_at is None else created_at
    data, manifest = encode_bundle(
        payload, version=version, platform=platform, created_at=when, key=key
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / bundle_name(version, platform)
    descriptor, temp = tempfile.mkstemp(dir=out_dir, prefix=".bundle-", suffix=SUFFIX)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return BuiltBundle(target, manifest, _pins(payload, key))


def default_created_at() -> int:
    """``SOURCE_DATE_EPOCH`` (reproducible-builds.org) when set, else now."""
    text = os.environ.get("SOURCE_DATE_EPOCH")
    if text is None:
        return int(time.time())
    if not text.isdigit():
        raise UpdateUsageError("SOURCE_DATE_EPOCH is not a whole number of seconds")
    return int(text)


def _pins(payload: list[ustar.Entry], key: EccKey) -> bool:
    """Whether the payload's pinned public key is the public half of ``key``."""
    wanted = f"terminal/data/{signing.PINNED_KEY_RESOURCE}"
    pem = next((e.data for e in payload if e.name == wanted), None)
    if pem is None:
        return False
    try:
        pinned = signing.import_public_pem(pem, wanted)
    except UpdateUsageError:
        return False
    return signing.fingerprint(pinned) == signing.fingerprint(key)
