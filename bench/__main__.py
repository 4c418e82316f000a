"""Run every bench/bench_*.py and print one Markdown table beside the issues' targets.

Usage: ``.venv/bin/python -m bench [--quick] [--only NAME] [--out FILE]``
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
import traceback
from pathlib import Path

import bench
from bench.common import Result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", help="run only bench_<ONLY>")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args()
    results: list[Result] = []
    failed = False
    for module_info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if not module_info.name.startswith("bench_"):
            continue
        if args.only and module_info.name != f"bench_{args.only}":
            continue
        module = importlib.import_module(f"bench.{module_info.name}")
        try:
            results.extend(module.run(args.quick))
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            failed = True
            print(f"{module_info.name} failed:", file=sys.stderr)
            traceback.print_exc()
    lines = [
        f"Machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "",
        "| issue | benchmark | measured | target | met | peer (same run) | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r.issue, r.name)):
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        lines.append(
            f"| #{r.issue} | {r.name} | {r.measured} | {r.target} | {met} | {r.peer} | {r.note} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
