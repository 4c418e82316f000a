"""junit.xml, report.md and report.html from case results.

JUnit because every CI shows it; Markdown for a merge request; one self-contained
HTML page (no scripts, no external files, every value escaped) for a lab's file.
Known kernel issues are JUnit ``skipped`` with the reason, so CI shows them apart
from failures.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from terminal.certify.runner import CaseResult, Verdict

COLUMNS = ("case", "result", "decision", "TVR", "TSI", "9F34", "GEN AC 1/2", "notes")


def counts(results: Sequence[CaseResult]) -> dict[str, int]:
    tally = {
        v: 0
        for v in (Verdict.PASS, Verdict.FAIL, Verdict.KNOWN_ISSUE, Verdict.FIXED, Verdict.ERROR)
    }
    for result in results:
        tally[result.verdict] += 1
    return tally


def summary_line(results: Sequence[CaseResult]) -> str:
    tally = counts(results)
    passed = tally[Verdict.PASS] + tally[Verdict.FIXED]
    parts = [f"{passed} of {len(results)} cases passed"]
    for verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.KNOWN_ISSUE, Verdict.FIXED):
        if tally[verdict]:
            parts.append(f"{tally[verdict]} {verdict}")
    return "; ".join(parts) + "."


def notes(result: CaseResult) -> str:
    parts: list[str] = []
    if result.error:
        parts.append(result.error)
    parts += result.differences
    if result.case.known_kernel_issue:
        prefix = (
            "known kernel issue"
            if result.verdict == Verdict.KNOWN_ISSUE
            else "marked known issue but passes now"
        )
        parts.append(f"{prefix}: {result.case.known_kernel_issue}")
    return "; ".join(parts)


def row(result: CaseResult) -> tuple[str, ...]:
    a = result.actual
    genacs = f"{a.get('genac1') or '-'}/{a.get('genac2') or '-'}" if a else ""
    return (
        result.case.name,
        result.verdict,
        a.get("decision", "") + (f" ({a['reason']})" if a.get("reason") else ""),
        a.get("tvr", ""),
        a.get("tsi", ""),
        a.get("cvm_results", ""),
        genacs,
        notes(result),
    )


def junit(results: Sequence[CaseResult], suite_name: str) -> ET.Element:
    tally = counts(results)
    root = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(results)),
        failures=str(tally[Verdict.FAIL]),
        errors=str(tally[Verdict.ERROR]),
        skipped=str(tally[Verdict.KNOWN_ISSUE]),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(
            root,
            "testcase",
            classname=f"posterm.certify.{suite_name}",
            name=result.case.name,
            time=f"{result.seconds:.3f}",
        )
        text = notes(result)
        if result.verdict == Verdict.FAIL:
            ET.SubElement(case, "failure", message=text, type="mismatch").text = text
        elif result.verdict == Verdict.ERROR:
            ET.SubElement(case, "error", message=text, type="error").text = text
        elif result.verdict == Verdict.KNOWN_ISSUE:
            ET.SubElement(case, "skipped", message=text).text = text
        if result.actual:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(f"{k}={v}" for k, v in result.actual.items())
    return root


def markdown(results: Sequence[CaseResult], suite_name: str) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"# posterm certify: {suite_name}",
        "",
        summary_line(results),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(cell(c) for c in row(r)) + " |" for r in results]
    lines += ["", "## Cases", ""]
    for result in results:
        lines.append(f"- **{cell(result.case.name)}** — {cell(result.case.description)}")
        if result.case.book:
            lines.append(f"  - book: {cell(result.case.book)}")
        if result.actual.get("tvr_bits"):
            lines.append(f"  - TVR bits set: {result.actual['tvr_bits']}")
    return "\n".join(lines) + "\n"


def html_page(results: Sequence[CaseResult], suite_name: str) -> str:
    e = html.escape
    colours = {
        Verdict.PASS: "#d7f5d7",
        Verdict.FIXED: "#e6f0ff",
        Verdict.KNOWN_ISSUE: "#fff2cc",
        Verdict.FAIL: "#f8d0d0",
        Verdict.ERROR: "#f8d0d0",
    }
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    body = "".join(
        f"<tr style='background:{colours[r.verdict]}' title='{e(r.case.description)}'>"
        + "".join(f"<td>{e(c)}</td>" for c in row(r))
        + "</tr>"
        for r in results
    )
    details = "".join(
        f"<dt>{e(r.case.name)}</dt><dd>{e(r.case.description)}"
        + (f"<br>book: {e(r.case.book)}" if r.case.book else "")
        + (f"<br>TVR bits set: {e(r.actual['tvr_bits'])}" if r.actual.get("tvr_bits") else "")
        + "</dd>"
        for r in results
    )
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>posterm certify: {e(suite_name)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px;font-size:90%}</style></head><body>"
        f"<h1>posterm certify: {e(suite_name)}</h1><p>{e(summary_line(results))}</p>"
        f"<table><tr>{head}</tr>{body}</table>"
        f"<h2>Cases</h2><dl>{details}</dl></body></html>\n"
    )


def write_reports(out: Path, results: Sequence[CaseResult], suite_name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(junit(results, suite_name))
    ET.indent(tree)
    tree.write(out / "junit.xml", encoding="utf-8", xml_declaration=True)
    (out / "report.md").write_text(markdown(results, suite_name), encoding="utf-8")
    (out / "report.html").write_text(html_page(results, suite_name), encoding="utf-8")
