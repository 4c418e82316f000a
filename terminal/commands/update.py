"""`posterm update verify BUNDLE [--pubkey FILE]`: check a firmware bundle (rig contract).

Exit 0 when the signature and every hash hold under the pinned key (or ``--pubkey``),
with one line on stdout; exit 1 with one line on stderr naming the reason otherwise;
exit 2 for bad arguments (an unreadable or non-Ed25519 ``--pubkey``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from Crypto.PublicKey.ECC import EccKey

from terminal.update import BundleRejected, UpdateUsageError, verify_file
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
