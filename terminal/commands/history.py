"""`posterm history --config F --operator ID [--since WHEN] [--pan-last4 NNNN] [--stan S]
[--rrn RRN] [--merchant NAME] [--limit N] [--json]`: transaction history search.

Newest first; masked rows as `posterm journal --json` prints them. ``--since`` takes an
ISO 8601 date or date-time (local time) or epoch seconds. A supervisor (or admin).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from terminal.commands.report import logged_in


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("history", help="search the transaction history")
    parser.add_argument("--config", required=True)
    parser.add_argument("--operator", required=True)
    parser.add_argument("--since", help="YYYY-MM-DD[THH:MM[:SS]] or epoch seconds")
    parser.add_argument("--pan-last4")
    parser.add_argument("--stan")
    parser.add_argument("--rrn")
    parser.add_argument("--merchant")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="JSON lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from terminal.reports import history, history_text

    with logged_in(args.config, args.operator, "history") as (_, journal):
        rows = history(
            journal,
            merchant=args.merchant,
            since=args.since,
            pan_last4=args.pan_last4,
            stan=args.stan,
            rrn=args.rrn,
            limit=args.limit,
        )
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
    elif rows:
        print(history_text(rows))
    return 0
