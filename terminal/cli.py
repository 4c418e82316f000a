"""The `posterm` command line: one dispatcher, one module per subcommand.

Built-in subcommands live in ``terminal.commands.<name>`` and expose
``register(subparsers)``. Subcommands that need the simulator (``sim``, ``demo``)
come from the ``posterm.commands`` entry-point group, so a handset build without
``sim/`` installed simply lacks them and production code never imports ``sim``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from emv.errors import EmvError
from hal.errors import HalError
from keys.errors import KeysError
from terminal.errors import TerminalError

# Order is the order `posterm --help` lists them in.
BUILTIN_COMMANDS = (
    "run",
    "pay",
    "settle",
    "journal",
    "report",
    "history",
    "reprint",
    "operator",
    "keys",
    "tlv",
    "qr",
    "states",
    "certify",
    "replay",
    "bundle",
    "update",
)
PLUGIN_GROUP = "posterm.commands"
# Subcommands provided by optional packages, with what to install when absent.
PLUGIN_COMMANDS = {"demo": "posterm[sim]", "sim": "posterm[sim]"}

EXIT_USAGE = 2
EXIT_INTERNAL = 3


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand is loaded.

    Loading one subcommand instead of all keeps a long-running ``posterm run`` from
    importing the simulator and every other command's modules (resident memory on a
    handset is tight); ``posterm --help`` still loads everything to list it.
    """
    parser = argparse.ArgumentParser(
        prog="posterm", description="EMV payment terminal and its simulator."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if only is None or only not in BUILTIN_COMMANDS:
        loaded: set[str] = set()
        for entry in entry_points(group=PLUGIN_GROUP):
            if only is None or entry.name == only or only not in PLUGIN_COMMANDS:
                entry.load()(subparsers)
                loaded.add(entry.name)
        for name, requirement in PLUGIN_COMMANDS.items():
            if name not in loaded and (only is None or name == only):
                missing = subparsers.add_parser(name, help=f"(needs {requirement})")
                missing.set_defaults(func=_plugin_missing(name, requirement))
    for name in BUILTIN_COMMANDS:
        if (
            only is None
            or only == name
            or (only not in BUILTIN_COMMANDS and only not in PLUGIN_COMMANDS)
        ):
            importlib.import_module(f"terminal.commands.{name}").register(subparsers)
    return parser


def _requested_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line, if it is the first argument."""
    if argv and not argv[0].startswith("-"):
        return argv[0]
    return None


def _plugin_missing(name: str, requirement: str):  # type: ignore[no-untyped-def]
    def run(_: argparse.Namespace) -> int:
        print(f"posterm {name}: not installed here; install {requirement}", file=sys.stderr)
        return EXIT_USAGE

    return run


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_requested_command(arguments))
    args = parser.parse_args(arguments)
    try:
        return int(args.func(args))
    except (TerminalError, EmvError, KeysError, HalError) as error:
        print(f"posterm {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`posterm journal --json | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"posterm {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI promises no traceback
        # Only the type: an unexpected message could carry data we must not print.
        print(
            f"posterm {args.command}: internal error ({type(error).__name__})",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
