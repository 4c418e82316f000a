"""Install a verified bundle as a release, switch to it atomically, roll back.

Layout under ``<data_dir>/firmware``::

    releases/<version>-<platform>-<id>/manifest.json, manifest.sig, tree/...
    current  -> releases/...      (the release the handset boots: current/tree)
    previous -> releases/...      (what ``rollback`` returns to)

A release is unpacked into ``releases/.staging-*`` with every file and directory
fsynced, read back and re-hashed, then renamed into place; only then does ``previous``
move to the old release and ``current`` to the new one, each by ``rename(2)`` of a
fresh symlink over the old (atomic on POSIX). A power cut at any instant leaves
``current`` naming a complete release. Releases other than current and previous
are pruned afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from Crypto.PublicKey.ECC import EccKey

from terminal.update import manifest as manifest_codec
from terminal.update.errors import BundleRejected, UpdateUsageError
from terminal.update.manifest import Manifest
from terminal.update.signing import pinned_public_key
from terminal.update.verify import VerifiedBundle, check_payload, check_signed_manifest, verify_file

FIRMWARE_DIR = "firmware"
RELEASES = "releases"
CURRENT = "current"
PREVIOUS = "previous"
TREE = "tree"
_STAGING = ".staging-"


@dataclass(frozen=True, slots=True)
class Release:
    name: str
    path: Path
    manifest: Manifest


@dataclass(frozen=True, slots=True)
class InstallResult:
    current: Release
    previous: Release | None
    already_current: bool


def firmware_root(data_dir: Path) -> Path:
    return data_dir / FIRMWARE_DIR


def version_key(version: str) -> tuple[tuple[int, ...], str]:
    """Order versions: numeric release part first, then the suffix (``1.2rc1`` < ``1.2``)."""
    match = re.match(r"^([0-9]+(?:\.[0-9]+)*)(.*)$", version)
    if match is None:
        return (), version
    numbers = tuple(int(n) for n in match.group(1).split("."))
    # No suffix sorts after any suffix: a final release is newer than its candidates.
    return numbers, match.group(2) or "\U0010ffff"


def apply_bundle(
    bundle: str | Path,
    data_dir: Path,
    *,
    platform: str,
    key: EccKey | None = None,
    allow_downgrade: bool = False,
) -> InstallResult:
    """Verify ``bundle``, install it and make it current (the old current becomes previous).

    Raises
    ------
    BundleRejected
        The bundle does not verify, is for another platform, or is older than current.
    """
    verified = verify_file(bundle, key)
    new = verified.manifest
    if new.platform != platform:
        raise BundleRejected(f"bundle is for platform {new.platform}, this terminal is {platform}")
    root = firmware_root(data_dir)
    releases = root / RELEASES
    releases.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        return _install(root, verified, allow_downgrade, key)


def _install(
    root: Path, verified: VerifiedBundle, allow_downgrade: bool, key: EccKey | None
) -> InstallResult:
    new, releases = verified.manifest, root / RELEASES
    current = read_link(root, CURRENT)
    older = current is not None and version_key(new.version) < version_key(current.manifest.version)
    if current is not None and older and not allow_downgrade:
        raise BundleRejected(
            f"downgrade refused: bundle {new.version} is older than"
            f" installed {current.manifest.version}"
        )
    raw = verified.manifest_bytes
    release_id = f"{new.version}-{new.platform}-{hashlib.sha256(raw).hexdigest()[:12]}"
    # A copy already on disk (previous, or left by a crash before the switch) is
    # reused only when it checks intact; a damaged one is never repaired in place
    # (it may be current): a fresh copy goes beside it and the old one is pruned.
    copies = sorted(d for d in releases.iterdir() if d.name.startswith(release_id))
    intact = [d for d in copies if _intact(d, key)]
    if current is not None and current.path in intact:
        return InstallResult(current, read_link(root, PREVIOUS), already_current=True)
    if intact:
        target = intact[0]
    else:
        target = releases / (release_id if not copies else f"{release_id}-{os.urandom(3).hex()}")
        _stage(releases, target, raw, verified.signature, verified.files)
    if current is not None:
        _point(root, PREVIOUS, current.name)
    _point(root, CURRENT, target.name)
    _prune(root)
    return InstallResult(_release(target), current, already_current=False)


def check_release(path: Path, key: EccKey | None = None) -> Release:
    """Re-verify an installed release on disk: its stored manifest and signature under
    ``key`` (default pinned), and its tree holding exactly the listed files and bytes.

    The boot-time check: ``posterm update check`` runs it on ``current``.
    """
    trusted = key if key is not None else pinned_public_key()
    try:
        raw = (path / "manifest.json").read_bytes()
        signature = (path / "manifest.sig").read_bytes()
    except OSError as error:
        raise BundleRejected(f"release {path.name}: {error.strerror}") from None
    manifest = check_signed_manifest(raw, signature, trusted)
    check_payload(manifest, _read_tree(path / TREE))
    return Release(path.name, path, manifest)


def _read_tree(tree: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for directory, dirnames, filenames in os.walk(tree):
        for name in [*dirnames, *filenames]:
            entry = Path(directory) / name
            rel = entry.relative_to(tree).as_posix()
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise BundleRejected(f"not a regular file: {rel}")
            if stat.S_ISREG(mode):
                found[rel] = entry.read_bytes()
    return found


def _intact(path: Path, key: EccKey | None) -> bool:
    try:
        check_release(path, key)
    except BundleRejected:
        return False
    return True


def rollback(data_dir: Path) -> InstallResult:
    """Swap current and previous (UpdateUsageError when there is no previous)."""
    root = firmware_root(data_dir)
    if not root.is_dir():
        raise UpdateUsageError("nothing to roll back to: no release installed")
    with _locked(root):
        current, previous = read_link(root, CURRENT), read_link(root, PREVIOUS)
        if current is None or previous is None:
            raise UpdateUsageError("nothing to roll back to: no previous release installed")
        _point(root, PREVIOUS, current.name)
        _point(root, CURRENT, previous.name)
        return InstallResult(previous, current, already_current=False)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One installer at a time (flock on firmware/.lock; released if the process dies)."""
    descriptor = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpdateUsageError("another update is in progress") from None
        yield
    finally:
        os.close(descriptor)


def read_link(root: Path, which: str) -> Release | None:
    """The release ``current`` or ``previous`` names, or None when not set."""
    path = link_target(root, which)
    return None if path is None else _release(path)


def link_target(root: Path, which: str) -> Path | None:
    """The release directory ``current`` or ``previous`` names (not read), or None."""
    link = root / which
    if not link.is_symlink():
        return None
    return root / RELEASES / Path(os.readlink(link)).name


def _release(path: Path) -> Release:
    try:
        manifest = manifest_codec.decode((path / "manifest.json").read_bytes())
    except OSError as error:
        raise UpdateUsageError(
            f"installed release {path.name} is damaged ({error.strerror})"
        ) from None
    except BundleRejected as error:
        raise UpdateUsageError(
            f"installed release {path.name} is damaged ({error.reason})"
        ) from None
    return Release(path.name, path, manifest)


def _stage(
    releases: Path, target: Path, raw: bytes, signature: bytes, files: dict[str, bytes]
) -> None:
    staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=releases))
    try:
        _write(staging / "manifest.json", raw)
        _write(staging / "manifest.sig", signature)
        tree = staging / TREE
        for path, data in files.items():
            destination = tree / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            _write(destination, data)
        for path, data in files.items():  # read back: the flash kept what we wrote
            if hashlib.sha256((tree / path).read_bytes()).digest() != hashlib.sha256(data).digest():
                raise BundleRejected(f"storage read-back mismatch: {path}")
        for directory in sorted({(tree / p).parent for p in files}, key=lambda d: -len(d.parts)):
            _fsync_dir(directory)
        _fsync_dir(tree)
        _fsync_dir(staging)
        os.rename(staging, target)
        _fsync_dir(releases)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _point(root: Path, which: str, name: str) -> None:
    """Make ``root/which`` a symlink to ``releases/name``, atomically."""
    fresh = root / f".{which}.new"
    fresh.unlink(missing_ok=True)
    os.symlink(f"{RELEASES}/{name}", fresh)
    os.replace(fresh, root / which)
    _fsync_dir(root)


def _prune(root: Path) -> None:
    keep = {r.name for r in (read_link(root, CURRENT), read_link(root, PREVIOUS)) if r}
    for entry in (root / RELEASES).iterdir():  # old releases and crashed stagings
        if entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
