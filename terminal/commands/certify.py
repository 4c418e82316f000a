"""`posterm certify [SUITE] --report DIR`: replay a suite of recorded card sessions.

SUITE is a directory of emv.recording JSON files (default: the built-in suite in
terminal/data/certify, recorded from the simulator's TEST ONLY cards). Each file
is one case: the kernel must follow the recorded exchanges exactly and end with
the expected decision, TVR, TSI and CVM results. Writes DIR/junit.xml,
DIR/report.md and DIR/report.html; exit 0 only when every case passes.
"""

from __future__ import annotations

import argparse
import html
import sys
import time
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

from emv.recording import RecordingError, from_dict
from terminal.commands.replay import load
from terminal.emvreplay import ReplayReport, replay

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("certify", help="run the certification suite")
    parser.add_argument("suite", nargs="?", help="directory of recordings (default: built-in)")
    parser.add_argument(
        "--report", required=True, help="directory for junit.xml, report.md, report.html"
    )
    parser.set_defaults(func=run)


def suite_files(suite: str | None) -> list[Path]:
    if suite is None:
        base = Path(str(resources.files("terminal.data").joinpath("certify")))
    else:
        base = Path(suite)
    if base.is_file():
        return [base]
    if not base.is_dir():
        raise RecordingError(f"suite {base} is not a directory")
    files = sorted(base.glob("*.json"))
    if not files:
        raise RecordingError(f"suite {base} holds no *.json recordings")
    return files


def _failure_text(report: ReplayReport) -> str:
    lines = []
    if report.divergence:
        lines.append(f"left the recorded path: {report.divergence}")
    if report.unused_exchanges:
        lines.append(f"{report.unused_exchanges} recorded exchanges never requested")
    for key, (expected, actual) in report.differences.items():
        lines.append(f"{key}: expected {expected}, got {actual}")
    return "; ".join(lines)


def write_reports(out: Path, cases: list[tuple[str, ReplayReport | None, str, float]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    failures = sum(1 for _, report, error, _ in cases if error or (report and not report.passed))
    suite = ET.Element(
        "testsuite",
        name="posterm-certify",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
    )
    for name, report, error, seconds in cases:
        case = ET.SubElement(
            suite, "testcase", classname="posterm.certify", name=name, time=f"{seconds:.4f}"
        )
        if error:
            ET.SubElement(case, "failure", message=error).text = error
        elif report is not None and not report.passed:
            text = _failure_text(report)
            ET.SubElement(case, "failure", message=text).text = text
    ET.ElementTree(suite).write(out / "junit.xml", encoding="utf-8", xml_declaration=True)
    rows = []
    for name, report, error, _ in cases:
        if report is None:
            rows.append((name, "FAIL", "", "", "", error))
            continue
        result = report.result
        rows.append(
            (
                name,
                "pass" if report.passed else "FAIL",
                result.decision.value,
                result.tvr.hex().upper(),
                result.tsi.hex().upper(),
                _failure_text(report),
            )
        )
    md = [
        "# posterm certify",
        "",
        f"{len(cases) - failures} of {len(cases)} cases passed.",
        "",
        "| case | result | decision | TVR | TSI | notes |",
        "|---|---|---|---|---|---|",
    ]
    md += [f"| {' | '.join(row)} |" for row in rows]
    (out / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    summary = f"{len(cases) - failures} of {len(cases)} cases passed."
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>posterm certify</title></head>"
        f"<body><h1>posterm certify</h1><p>{summary}</p>"
        "<table border='1'><tr><th>case</th><th>result</th><th>decision</th><th>TVR</th>"
        f"<th>TSI</th><th>notes</th></tr>{cells}</table></body></html>\n"
    )
    (out / "report.html").write_text(page, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    try:
        files = suite_files(args.suite)
    except RecordingError as error:
        print(f"posterm certify: {error}", file=sys.stderr)
        return EXIT_USAGE
    cases: list[tuple[str, ReplayReport | None, str, float]] = []
    for path in files:
        start = time.perf_counter()
        report: ReplayReport | None = None
        note = ""
        try:
            recording = from_dict(load(path))
        except RecordingError as problem:
            note = f"not a recording: {problem}"
        else:
            report = replay(recording)
        cases.append(
            (report.name if report else path.stem, report, note, time.perf_counter() - start)
        )
    write_reports(Path(args.report), cases)
    passed = sum(1 for _, done, note, _ in cases if done is not None and done.passed and not note)
    print(f"posterm certify: {passed}/{len(cases)} cases passed; reports in {args.report}")
    return 0 if passed == len(cases) else 1
