"""`posterm sim card PROFILE --vpcd [--port N]`: serve a virtual card to vpcd until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def run_card(args: argparse.Namespace) -> int:
    from sim.card.card import VirtualCard
    from sim.card.profile import load_profile
    from sim.errors import SimError
    from sim.vpcd import serve

    if not args.vpcd:
        print("posterm sim card: say where to serve the card (--vpcd)", file=sys.stderr)
        return EXIT_USAGE
    try:
        card = VirtualCard(load_profile(args.profile))
    except SimError as error:
        print(f"posterm sim card: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"serving {card.profile.name} to vpcd on port {args.port} (Ctrl-C stops)", file=sys.stderr
    )
    try:
        serve(card, port=args.port)
    except SimError as error:
        print(f"posterm sim card: {error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
