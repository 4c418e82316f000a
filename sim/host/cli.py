"""`posterm sim host --port N --rules FILE [--ledger FILE] [--bdk HEX]
[--tls-cert PEM --tls-key PEM]`."""

from __future__ import annotations

import argparse
import signal
import sys

from sim.host.errors import HostError
from sim.host.server import HostSimulator

# ANSI X9.24-1:2009 Annex A.4 test BDK: the default only a simulator may have.
TEST_BDK = "0123456789ABCDEFFEDCBA9876543210"


def run(args: argparse.Namespace) -> int:
    try:
        host = HostSimulator(
            args.rules,
            args.ledger,
            args.bdk or TEST_BDK,
            port=args.port,
            tls_cert=getattr(args, "tls_cert", None),
            tls_key=getattr(args, "tls_key", None),
        )
        port = host.start()
    except (HostError, OSError, ValueError) as exc:
        print(f"posterm sim host: {exc}", file=sys.stderr)
        return 2
    # rigs parse "listening on 127.0.0.1:PORT, ledger PATH": anything new goes after it
    line = f"posterm sim host: listening on 127.0.0.1:{port}, ledger {args.ledger}"
    if host.pin_sha256 is not None:
        line += f", tls pin_sha256 {host.pin_sha256}"
    print(line, flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # a clean stop closes the ledger
    try:
        host.serve_forever()
    finally:
        host.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
