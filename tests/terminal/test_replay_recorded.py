"""posterm certify --record + posterm replay: live sim sessions replay exactly, and changes show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from terminal.cli import main

CASES = (
    "cda-offline-enciphered-pin",
    "online-pin",
    "multi-app-second",
    "issuer-script-72-fails",
)  # suite order


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("recorded")
    only = [arg for name in CASES for arg in ("--only", name)]
    assert main(["certify", "--report", str(base / "report"), "--record", str(base), *only]) == 0
    return base


def files(recorded: Path) -> list[Path]:
    return sorted(recorded.glob("*.json"))


def test_every_recorded_case_replays_on_the_recorded_path(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert [p.name.split("-", 1)[1].removesuffix(".json") for p in files(recorded)] == list(CASES)
    for path in files(recorded):
        capsys.readouterr()
        assert main(["replay", str(path)]) == 0, path.name
        document = json.loads(capsys.readouterr().out)
        assert document["passed"] and document["divergence"] is None


def test_a_recorded_directory_is_a_certify_suite(recorded: Path, tmp_path: Path) -> None:
    assert main(["certify", str(recorded), "--report", str(tmp_path)]) == 0


def test_changed_input_is_reported_as_a_divergence(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(files(recorded)[1].read_text())  # online-pin
    document["txn"]["amount"] += 1  # the kernel now sends other CDOL1 data
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(document))
    assert main(["replay", str(path)]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["divergence"].startswith("exchange ")
    assert "80AE" in result["divergence"]  # it is the GENERATE AC that differs


def test_changed_card_answer_is_reported_as_a_result_difference(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(files(recorded)[3].read_text())  # issuer-script-72-fails
    # the script command's 6988 (bad MAC) becomes 9000: the script now succeeds
    exchanges = document["exchanges"]
    index = next(i for i, (command, _) in enumerate(exchanges) if command.startswith("841E"))
    assert exchanges[index][1] == "6988"
    exchanges[index][1] = "9000"
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(document))
    assert main(["replay", str(path)]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["divergence"] is None
    assert result["differences"]["tvr"] == {"expected": "0000008010", "actual": "0000008000"}


def test_recordings_hold_the_test_pin_only_where_a_pin_was_typed(recorded: Path) -> None:
    pins = {p.name: json.loads(p.read_text())["pin"] for p in files(recorded)}
    assert [pins[p.name] for p in files(recorded)] == ["1234", "1234", "1234", ""]
