"""One module per `posterm` subcommand, each exposing ``register(subparsers)``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_USAGE = 2


def register_pending(subparsers: Any, name: str, issue: int, summary: str) -> None:
    """Register a subcommand whose issue is still open: it says so and exits 2."""
    parser = subparsers.add_parser(name, help=f"{summary} (issue #{issue}, not built yet)")
    parser.add_argument("rest", nargs=argparse.REMAINDER)

    def run(_: argparse.Namespace) -> int:
        print(
            f"posterm {name}: not built yet - issue #{issue} ({summary}) is still open",
            file=sys.stderr,
        )
        return EXIT_USAGE

    parser.set_defaults(func=run)
