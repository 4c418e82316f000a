"""`posterm sim ...` and `posterm demo`, registered through the posterm.commands
entry-point group so that terminal/ never imports sim/."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_USAGE = 2


def register_sim(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="run a simulated card or acquirer host")
    kinds = parser.add_subparsers(dest="sim_kind", metavar="KIND", required=True)
    card = kinds.add_parser("card", help="serve a virtual card behind pcscd (vpcd)")
    card.add_argument("profile")
    card.add_argument("--vpcd", action="store_true")
    card.add_argument("--port", type=int, default=35963)
    from sim.card.cli import run_card

    card.set_defaults(func=run_card)
    host = kinds.add_parser("host", help="serve the acquirer host simulator over TCP")
    host.add_argument("--port", type=int, default=8583)
    host.add_argument("--rules", required=True, help="approval rules TOML (docs/sim-host.md)")
    host.add_argument("--ledger", default="host-ledger.db", help="SQLite ledger file")
    host.add_argument("--bdk", default=None, help="TDES BDK hex (default: X9.24-1 test BDK)")
    host.add_argument("--tls-cert", default=None, help="serve TLS 1.2+ with this PEM certificate")
    host.add_argument("--tls-key", default=None, help="PEM private key (default: in --tls-cert)")
    host.set_defaults(func=lambda args: __import__("sim.host.cli", fromlist=["run"]).run(args))


def register_demo(subparsers: Any) -> None:
    from sim.demo import register_demo as register

    register(subparsers)


def _pending(name: str, issue: int):  # type: ignore[no-untyped-def]
    def run(_: argparse.Namespace) -> int:
        print(f"posterm {name}: not built yet - issue #{issue} is still open", file=sys.stderr)
        return EXIT_USAGE

    return run
