"""`posterm certify [SUITE] --report DIR`: run a certification suite, write reports.

SUITE is a TOML suite file (terminal.certify.suite; default: the built-in suite in
terminal/certify/suites/builtin.toml), or a directory / file of emv.recording JSON
sessions to replay. Writes DIR/junit.xml, DIR/report.md and DIR/report.html.
Exit 0 when every case passed (known kernel issues are reported apart and do not
fail the run), 1 when any case failed or could not run, 2 for a bad suite.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from emv.recording import RecordingError, from_dict
from terminal.certify import BUILTIN_SUITE
from terminal.certify.report import summary_line, write_reports
from terminal.certify.runner import CaseResult, Verdict, base_config, run_case
from terminal.certify.suite import Case, SuiteError, load_suite
from terminal.commands.replay import load
from terminal.emvreplay import ReplayReport, replay

EXIT_FAILED = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("certify", help="run a certification suite and write reports")
    parser.add_argument(
        "suite",
        nargs="?",
        help="suite TOML file, or a directory of emv.recording JSON files (default: built-in)",
    )
    parser.add_argument(
        "--report", required=True, help="directory for junit.xml, report.md, report.html"
    )
    parser.add_argument(
        "--config", help="terminal configuration to start every case from (default: built-in)"
    )
    parser.add_argument("--only", action="append", default=[], help="run only this case (repeat)")
    parser.add_argument(
        "--record",
        metavar="DIR",
        help="also write each live session as an emv.recording JSON file (TEST cards only)",
    )
    parser.set_defaults(func=run)


def builtin_suite_path() -> Path:
    return Path(str(resources.files("terminal.certify.suites").joinpath(BUILTIN_SUITE)))


def run(args: argparse.Namespace) -> int:
    target = Path(args.suite) if args.suite else builtin_suite_path()
    try:
        if target.is_dir() or target.suffix == ".json":
            name, results = target.stem, run_recordings(target)
        else:
            suite = load_suite(target)
            cases = [c for c in suite.cases if not args.only or c.name in args.only]
            if not cases:
                raise SuiteError(str(target), f"no case named {', '.join(args.only)}")
            base = base_config(args.config)
            record = bool(args.record)
            results = [run_case(case, base, record=record) for case in cases]
            name = suite.name
    except (SuiteError, RecordingError) as error:
        print(f"posterm certify: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        write_reports(Path(args.report), results, name)
        if args.record:
            write_recordings(Path(args.record), results)
    except OSError as error:
        print(f"posterm certify: cannot write reports: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"posterm certify: {summary_line(results)} Reports in {args.report}")
    for result in results:
        if result.unexpected:
            print(f"  {result.verdict}: {result.case.name}", file=sys.stderr)
    return EXIT_FAILED if any(r.unexpected for r in results) else 0


# --------------------------------------------------------------------------- recordings


def write_recordings(out: Path, results: list[CaseResult]) -> None:
    """One ``NN-name.json`` per recorded case; replay them with ``posterm certify DIR``."""
    out.mkdir(parents=True, exist_ok=True)
    for number, result in enumerate(results, 1):
        if result.recording is not None:
            path = out / f"{number:02d}-{result.case.name}.json"
            path.write_text(json.dumps(result.recording, indent=1) + "\n", encoding="utf-8")


def recording_files(base: Path) -> list[Path]:
    if base.is_file():
        return [base]
    if not base.is_dir():
        raise RecordingError(f"suite {base} is not a file or directory")
    files = sorted(base.glob("*.json"))
    if not files:
        raise RecordingError(f"suite {base} holds no *.json recordings")
    return files


def run_recordings(base: Path) -> list[CaseResult]:
    """Replay each recording; a file that is not a recording is that case's error."""
    results: list[CaseResult] = []
    for path in recording_files(base):
        start = time.perf_counter()
        try:
            recording = from_dict(load(path))
        except RecordingError as problem:
            case = Case(name=path.stem, card=f"recording:{path.name}")
            results.append(
                CaseResult(case, Verdict.ERROR, time.perf_counter() - start, error=str(problem))
            )
            continue
        report = replay(recording)
        case = Case(
            name=recording.name, card=f"recording:{path.name}", description=recording.description
        )
        results.append(
            CaseResult(
                case,
                Verdict.PASS if report.passed else Verdict.FAIL,
                time.perf_counter() - start,
                actual=_replay_summary(report),
                differences=tuple(_replay_problems(report)),
            )
        )
    return results


def _replay_summary(report: ReplayReport) -> dict[str, str]:
    result = report.result
    return {
        "decision": result.decision.value,
        "reason": result.reason.name if result.reason else "",
        "tvr": result.tvr.hex().upper(),
        "tsi": result.tsi.hex().upper(),
        "cvm_results": result.cvm_results.hex().upper(),
        "genac2": result.cryptogram_type,
    }


def _replay_problems(report: ReplayReport) -> list[str]:
    problems = []
    if report.divergence:
        problems.append(f"left the recorded path: {report.divergence}")
    if report.unused_exchanges:
        problems.append(f"{report.unused_exchanges} recorded exchanges never requested")
    problems += [f"{k}: expected {e}, got {a}" for k, (e, a) in report.differences.items()]
    return problems
