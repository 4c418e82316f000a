"""`posterm bundle --platform PLATFORM --out DIR`: build a signed firmware bundle (rig contract).

Prints the bundle's path on stdout. Signs with ``--signing-key FILE``, else
``$POSTERM_SIGNING_KEY`` (a file path), else the development key of a source checkout
(with a warning: terminals with a production pinned key refuse such bundles).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from terminal.update import PLATFORMS, build_bundle
from terminal.update.build import default_source_root
from terminal.update.errors import UpdateUsageError
from terminal.update.manifest import parse_time
from terminal.update.signing import ENV_SIGNING_KEY, resolve_signing_key

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bundle", help="build a signed firmware bundle from this source tree"
    )
    parser.add_argument("--platform", required=True, choices=sorted(PLATFORMS))
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument(
        "--signing-key",
        metavar="FILE",
        help=f"Ed25519 private key (PKCS#8 PEM); default ${ENV_SIGNING_KEY}, else the dev key",
    )
    parser.add_argument(
        "--source", type=Path, metavar="DIR", help="source tree (default: this checkout)"
    )
    parser.add_argument(
        "--created-at",
        metavar="YYYY-MM-DDTHH:MM:SSZ",
        help="creation time to record (default: $SOURCE_DATE_EPOCH, else now)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = args.source or default_source_root()
    try:
        created_at = None if args.created_at is None else parse_time(args.created_at)
    except ValueError:
        print("posterm bundle: --created-at is not YYYY-MM-DDTHH:MM:SSZ", file=sys.stderr)
        return EXIT_USAGE
    try:
        key, development = resolve_signing_key(args.signing_key, [root, default_source_root()])
        built = build_bundle(args.out, args.platform, key, source_root=root, created_at=created_at)
    except UpdateUsageError as error:
        print(f"posterm bundle: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"posterm bundle: cannot write bundle: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    if development:
        print(
            "posterm bundle: signed with the DEVELOPMENT key; production terminals refuse it",
            file=sys.stderr,
        )
    if not built.signer_pinned:
        print(
            "posterm bundle: warning: the release pins a different update key than the one"
            " that signed it; once installed it will refuse later bundles from this signer",
            file=sys.stderr,
        )
    print(built.path)
    return 0
