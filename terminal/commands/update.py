"""`posterm update`: verify, install and roll back firmware bundles.

``update verify BUNDLE [--pubkey FILE]`` (rig contract): exit 0 when the signature and
every hash hold under the pinned key (or ``--pubkey``), with one line on stdout; exit 1
with one line on stderr naming the reason otherwise; exit 2 for bad arguments (an
unreadable or non-Ed25519 ``--pubkey``).

``update apply BUNDLE --config FILE`` verifies, then installs under ``data_dir`` and
switches ``current`` atomically (1 when the bundle is refused, including a downgrade);
``update rollback --config FILE`` returns to the previous release; ``update check
--config FILE`` re-verifies the installed current release on disk (exit 0 or 1, the
boot-time check); ``update status --config FILE`` prints one JSON object describing
current and previous.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

from Crypto.PublicKey.ECC import EccKey

from terminal.config import load_config
from terminal.update import PLATFORMS, BundleRejected, UpdateUsageError, verify_file
from terminal.update.install import (
    CURRENT,
    PREVIOUS,
    Release,
    apply_bundle,
    check_release,
    firmware_root,
    link_target,
    read_link,
    rollback,
)
from terminal.update.manifest import format_time
from terminal.update.signing import load_public_key, pinned_public_key

EXIT_REJECTED = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("update", help="verify and install firmware bundles")
    actions = parser.add_subparsers(dest="update_action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check a bundle's signature and hashes")
    verify.add_argument("bundle", metavar="BUNDLE")
    verify.add_argument("--pubkey", metavar="FILE", help="Ed25519 public key (default: pinned)")
    verify.set_defaults(func=run_verify)

    apply = actions.add_parser("apply", help="verify, install and switch to a bundle")
    apply.add_argument("bundle", metavar="BUNDLE")
    apply.add_argument("--config", required=True, metavar="FILE")
    apply.add_argument("--pubkey", metavar="FILE", help="Ed25519 public key (default: pinned)")
    apply.add_argument(
        "--platform",
        choices=sorted(PLATFORMS),
        help="this terminal's platform (default: linux-<machine>)",
    )
    apply.add_argument(
        "--allow-downgrade", action="store_true", help="install an older version (field recovery)"
    )
    apply.set_defaults(func=run_apply)

    back = actions.add_parser("rollback", help="return to the previous release")
    back.add_argument("--config", required=True, metavar="FILE")
    back.set_defaults(func=run_rollback)

    check = actions.add_parser("check", help="re-verify the installed current release (boot)")
    check.add_argument("--config", required=True, metavar="FILE")
    check.add_argument("--pubkey", metavar="FILE", help="Ed25519 public key (default: pinned)")
    check.set_defaults(func=run_check)

    status = actions.add_parser("status", help="the current and previous release as JSON")
    status.add_argument("--config", required=True, metavar="FILE")
    status.set_defaults(func=run_status)


def _trusted_key(args: argparse.Namespace) -> EccKey:
    return load_public_key(args.pubkey) if args.pubkey else pinned_public_key()


def run_verify(args: argparse.Namespace) -> int:
    try:
        key = _trusted_key(args)
    except UpdateUsageError as error:
        print(f"posterm update verify: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        verified = verify_file(args.bundle, key)
    except BundleRejected as error:
        print(f"posterm update verify: rejected: {error.reason}", file=sys.stderr)
        return EXIT_REJECTED
    m = verified.manifest
    print(
        f"ok: posterm {m.version} for {m.platform}, {len(m.files)} files,"
        f" created {format_time(m.created_at)}, signing key {m.signing_key[:16]}"
    )
    return 0


def local_platform() -> str:
    """``linux-<machine>`` for this device (UpdateUsageError when not a bundle platform)."""
    name = f"{platform.system().lower()}-{platform.machine()}"
    if name not in PLATFORMS:
        raise UpdateUsageError(f"this machine ({name}) is no bundle platform; give --platform")
    return name


def run_apply(args: argparse.Namespace) -> int:
    # Config and key problems are usage errors (exit 2) raised before anything is read.
    data_dir = load_config(args.config).terminal.data_dir
    key = _trusted_key(args)
    target = args.platform or local_platform()
    try:
        result = apply_bundle(
            args.bundle, data_dir, platform=target, key=key, allow_downgrade=args.allow_downgrade
        )
    except BundleRejected as error:
        print(f"posterm update apply: rejected: {error.reason}", file=sys.stderr)
        return EXIT_REJECTED
    print(json.dumps(_status(result.current, result.previous, result.already_current)))
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    result = rollback(load_config(args.config).terminal.data_dir)
    print(json.dumps(_status(result.current, result.previous, False)))
    return 0


def run_check(args: argparse.Namespace) -> int:
    root = firmware_root(load_config(args.config).terminal.data_dir)
    key = _trusted_key(args)
    try:
        path = link_target(root, CURRENT)
        if path is None:
            raise BundleRejected("no release installed")
        release = check_release(path, key)
    except BundleRejected as error:
        print(f"posterm update check: failed: {error.reason}", file=sys.stderr)
        return EXIT_REJECTED
    print(f"ok: release {release.name} intact ({len(release.manifest.files)} files)")
    return 0


def run_status(args: argparse.Namespace) -> int:
    root = firmware_root(load_config(args.config).terminal.data_dir)
    current, previous = read_link(root, CURRENT), read_link(root, PREVIOUS)
    document = _status(current, previous, None)
    document.pop("already_current")
    print(json.dumps(document))
    return 0


def _status(
    current: Release | None, previous: Release | None, already: bool | None
) -> dict[str, object]:
    return {
        "current": _describe(current),
        "previous": _describe(previous),
        "already_current": already,
    }


def _describe(release: Release | None) -> dict[str, object] | None:
    if release is None:
        return None
    m = release.manifest
    return {
        "release": release.name,
        "version": m.version,
        "platform": m.platform,
        "created_at": format_time(m.created_at),
        "signing_key": m.signing_key,
        "files": len(m.files),
        "path": str(release.path / "tree"),
    }
