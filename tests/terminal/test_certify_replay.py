"""posterm certify / posterm replay over recorded card sessions (emv.recording)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from emv.recording import from_dict, to_dict
from terminal.cli import main

SUITE = Path(__file__).resolve().parents[2] / "terminal/data/certify"


def test_recorded_suite_passes_and_writes_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certify", str(SUITE), "--report", str(tmp_path)]) == 0
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert junit.get("failures") == "0" and int(junit.get("tests", "0")) >= 20
    assert "cda-online-pin" in (tmp_path / "report.md").read_text()
    assert "<table" in (tmp_path / "report.html").read_text()
    assert "20" in capsys.readouterr().out


def tampered_suite(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(SUITE / "08-sda.json", suite / "08-sda.json")
    document = json.loads((SUITE / "06-plaintext-pin.json").read_text())
    document["expected"]["tvr"] = "8000000000"  # the kernel will not produce this
    (suite / "06-plaintext-pin.json").write_text(json.dumps(document))
    return suite


def test_a_failing_case_fails_the_run(tmp_path: Path) -> None:
    suite = tampered_suite(tmp_path)
    assert main(["certify", str(suite), "--report", str(tmp_path / "out")]) == 1
    junit = ET.parse(tmp_path / "out/junit.xml").getroot()
    assert junit.get("failures") == "1"
    failure = junit.find("testcase[@name='plaintext-pin']/failure")
    assert failure is not None and "tvr: expected 8000000000" in (failure.get("message") or "")


def test_replay_prints_result_and_masked_trace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(SUITE / "01-cda-online-pin.json"), "--trace"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["passed"] and document["decision"] == "approved_online"
    pan = "4761739001010010"
    assert all(
        pan not in step["response"] and pan not in step["description"] for step in document["trace"]
    )


def test_replay_notices_the_kernel_leaving_the_recorded_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recording = from_dict(json.loads((SUITE / "08-sda.json").read_text()))
    # drop the last exchange: the kernel asks for something the recording lacks
    shortened = to_dict(recording)
    shortened["exchanges"] = shortened["exchanges"][:-1]
    path = tmp_path / "short.json"
    path.write_text(json.dumps(shortened))
    assert main(["replay", str(path)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert "end of recording" in document["divergence"]


def test_replay_of_something_else_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"format": "other"}')
    assert main(["replay", str(path)]) == 2


def test_recording_round_trips() -> None:
    document = json.loads((SUITE / "02-cda-enciphered-pin.json").read_text())
    assert to_dict(from_dict(document)) == document
