"""`posterm journal --config FILE --json`: every journaled transaction, masked.

One JSON object per line with (at least) type, amount, stan, rrn, merchant, batch and
status (approved, declined, reversed, voided, pending) as the rig contract says. Needs no
key: the journal holds PANs masked for display and encrypted otherwise.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from terminal.config import load_config
from terminal.journal import Journal


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("journal", help="list journaled transactions")
    parser.add_argument("--config", required=True)
    parser.add_argument("--json", action="store_true", help="JSON lines (the rig contract)")
    parser.add_argument("--merchant", help="only this merchant profile")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with Journal(config.journal.path) as journal:
        for txn in journal.transactions():
            if args.merchant and txn.merchant != args.merchant:
                continue
            row = txn.masked()
            if args.json:
                print(json.dumps(row, sort_keys=True))
            else:
                print(
                    f"{row['id']:>6} {row['type']:<10} {row['amount']:>12} "
                    f"{row['stan']} {row['rrn'] or '-':<12} {row['status']:<9} "
                    f"{row['merchant']} #{row['batch']} {row['pan'] or ''}"
                )
    return 0
