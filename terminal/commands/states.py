"""`posterm states`: the state machine's table, as text or Graphviz (--dot)."""

from __future__ import annotations

import argparse
from typing import Any

from terminal.machine import TRANSITIONS, to_dot


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("states", help="print the terminal's state machine")
    parser.add_argument("--dot", action="store_true", help="Graphviz source")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.dot:
        print(to_dot())
        return 0
    width = max(len(s.value) for (s, _) in TRANSITIONS)
    for (source, trigger), target in TRANSITIONS.items():
        print(f"{source.value:<{width}}  --{trigger.value}-->  {target.value}")
    return 0
