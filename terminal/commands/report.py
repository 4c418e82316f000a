"""`posterm report --config F --operator ID [--merchant NAME] [--json]`: the X report.

Running totals of each merchant profile's open batch, overall and per card scheme, with
what is still owed to the host (pending rows, queued reversals and advices). Reads the
journal only; a supervisor (or admin) logs in (password in ``POSTERM_PASSWORD``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from terminal.commands.operator import login
from terminal.config import Config, load_config
from terminal.journal import Journal
from terminal.operators import Operators


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="X report: running totals of the open batch")
    parser.add_argument("--config", required=True)
    parser.add_argument("--operator", required=True)
    parser.add_argument("--merchant", help="only this merchant profile")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(func=run)


@contextmanager
def logged_in(config_path: str, operator: str, action: str) -> Iterator[tuple[Config, Journal]]:
    """The configuration and the journal, once ``operator`` logged in and may ``action``.
    No owner lock and no recovery: these commands only read, beside a live terminal."""
    config = load_config(config_path)
    with Journal(config.journal.path) as journal:
        operators = Operators(journal, config.operators, idle_timeout=config.timeouts.operator_idle)
        operators.require(login(operators, operator), action)
        yield config, journal


def run(args: argparse.Namespace) -> int:
    from terminal.reports import report_object, report_text

    with logged_in(args.config, args.operator, "x_report") as (config, journal):
        report = report_object(config, journal, args.merchant)
    print(json.dumps(report, sort_keys=True) if args.json else report_text(report))
    return 0
