"""`posterm reprint --config F --operator ID [--stan S] [--merchant NAME] [--json]`:
the last receipt again (or that of STAN S), marked as a duplicate.

Prints the customer copy (``--json``: one object with ``receipt`` and
``merchant_receipt``). The receipts were stored rendered and masked when the transaction
finished. Any operator may reprint.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from terminal.commands.report import logged_in


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("reprint", help="reprint the last receipt")
    parser.add_argument("--config", required=True)
    parser.add_argument("--operator", required=True)
    parser.add_argument("--stan", help="this transaction's receipt instead of the last")
    parser.add_argument("--merchant")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from terminal.reports import reprint

    with logged_in(args.config, args.operator, "reprint") as (_, journal):
        found = reprint(journal, stan=args.stan, merchant=args.merchant)
    print(json.dumps(found, sort_keys=True) if args.json else found["receipt"])
    return 0
