"""`posterm replay FILE`: run the kernel over a recorded card session (emv.recording).

Prints one JSON object: the kernel's decision, TVR, TSI, CVM results, the
decoded masked APDU trace, and whether the replay stayed on the recorded path
and matched the recording's expected result. Exit 0 when it did, 1 when it did
not, 2 for a file that is not a recording.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from emv.recording import RecordingError, from_dict, result_summary
from terminal.emvreplay import ReplayReport, replay

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay", help="replay a recorded APDU session against the kernel"
    )
    parser.add_argument("recording", help="an emv.recording JSON file")
    parser.add_argument("--trace", action="store_true", help="include the masked APDU trace")
    parser.set_defaults(func=run)


def load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordingError(f"{path}: {error}") from error


def report_document(report: ReplayReport, *, trace: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": report.name,
        "passed": report.passed,
        **result_summary(report.result),
        "detail": report.result.detail,
        "divergence": report.divergence or None,
        "unused_exchanges": report.unused_exchanges,
        "differences": {
            k: {"expected": e, "actual": a} for k, (e, a) in report.differences.items()
        },
    }
    if trace:
        document["trace"] = [
            {
                "step": entry.step,
                "command": entry.command.hex().upper(),
                "response": entry.response.hex().upper(),
                "description": entry.description,
            }
            for entry in report.result.trace
        ]
    return document


def run(args: argparse.Namespace) -> int:
    try:
        recording = from_dict(load(Path(args.recording)))
    except RecordingError as error:
        print(f"posterm replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    report = replay(recording)
    print(json.dumps(report_document(report, trace=args.trace)))
    return 0 if report.passed else 1
