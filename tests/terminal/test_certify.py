"""posterm certify over TOML suites: exit codes, reports, malformed suites, the built-in suite."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from terminal.certify.suite import SuiteError, load_suite
from terminal.cli import main
from terminal.commands.certify import builtin_suite_path

PASSING = """
[[case]]
name = "sda-ok"
card = "sim://visa-sda"
description = "SDA <b>card</b> & signature"
aid = [{ floor_limit = 5000 }, { aid = "A0000000032010", app_version = "0096" }]
[case.expected]
decision = "approved_offline"
tvr = "0200000000"
tvr_set = ["SDA_SELECTED"]
cvm_results = "1E0300"
genac1 = "TC"
genac2 = ""
"""

FAILING = """
[[case]]
name = "expects-the-wrong-tvr"
card = "sim://visa-sda"
aid = [{ floor_limit = 5000 }, { aid = "A0000000032010", app_version = "0096" }]
expected = { decision = "approved_offline", tvr = "8000000000", tvr_clear = ["SDA_SELECTED"] }
"""


def write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def certify(*args: str) -> int:
    return main(["certify", *args])


def test_one_pass_one_fail_exits_1_with_parseable_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = write(tmp_path, PASSING + FAILING)
    out = tmp_path / "out"
    assert certify(str(suite), "--report", str(out)) == 1
    root = ET.parse(out / "junit.xml").getroot()
    assert root.tag == "testsuite"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {"sda-ok", "expects-the-wrong-tvr"}
    for case in cases.values():
        assert float(case.get("time", "x")) >= 0
    assert cases["sda-ok"].find("failure") is None
    failure = cases["expects-the-wrong-tvr"].find("failure")
    assert failure is not None
    message = failure.get("message") or ""
    assert "tvr: expected 8000000000, got 0200000000" in message
    assert "TVR SDA_SELECTED: expected clear, is set" in message
    markdown = (out / "report.md").read_text()
    assert "1 of 2 cases passed; 1 fail." in markdown
    assert "| sda-ok | pass | approved_offline | 0200000000 |" in markdown
    page = (out / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "SDA &lt;b&gt;card&lt;/b&gt; &amp; signature" in page  # escaped, not markup
    assert "<b>card</b>" not in page
    captured = capsys.readouterr()
    assert "1 of 2 cases passed" in captured.out
    assert "fail: expects-the-wrong-tvr" in captured.err


def test_all_passing_exits_0(tmp_path: Path) -> None:
    suite = write(tmp_path, PASSING)
    assert certify(str(suite), "--report", str(tmp_path / "out")) == 0
    root = ET.parse(tmp_path / "out/junit.xml").getroot()
    assert root.get("failures") == "0" and root.find("testcase/failure") is None


def test_only_runs_the_named_case(tmp_path: Path) -> None:
    suite = write(tmp_path, PASSING + FAILING)
    assert certify(str(suite), "--report", str(tmp_path / "o"), "--only", "sda-ok") == 0
    root = ET.parse(tmp_path / "o/junit.xml").getroot()
    assert [c.get("name") for c in root.iter("testcase")] == ["sda-ok"]


def test_known_kernel_issue_is_reported_apart_and_does_not_fail_the_run(tmp_path: Path) -> None:
    marked = FAILING + 'known_kernel_issue = "kernel sets the wrong bit (reported to lead)"\n'
    suite = write(tmp_path, PASSING + marked)
    out = tmp_path / "out"
    assert certify(str(suite), "--report", str(out)) == 0
    root = ET.parse(out / "junit.xml").getroot()
    assert (root.get("failures"), root.get("skipped")) == ("0", "1")
    skipped = root.find("testcase[@name='expects-the-wrong-tvr']/skipped")
    assert skipped is not None and "known kernel issue" in (skipped.get("message") or "")
    assert "1 known issue" in (out / "report.md").read_text()


def test_known_issue_that_now_passes_is_flagged(tmp_path: Path) -> None:
    marked = PASSING.replace(
        'name = "sda-ok"\n', 'name = "sda-ok"\nknown_kernel_issue = "was wrong once"\n'
    )
    out = tmp_path / "out"
    assert certify(str(write(tmp_path, marked)), "--report", str(out)) == 0
    assert "fixed?" in (out / "report.md").read_text()
    assert "marked known issue but passes now" in (out / "report.md").read_text()


def test_a_case_that_cannot_run_is_an_error_not_a_crash(tmp_path: Path) -> None:
    suite = write(tmp_path, '[[case]]\nname = "ghost"\ncard = "sim://no-such-profile"\n')
    out = tmp_path / "out"
    assert certify(str(suite), "--report", str(out)) == 1
    root = ET.parse(out / "junit.xml").getroot()
    assert root.get("errors") == "1"
    error = root.find("testcase/error")
    assert error is not None and "no-such-profile" in (error.get("message") or "")


def test_card_faults_reach_the_simulated_card(tmp_path: Path) -> None:
    suite = write(
        tmp_path,
        """
[[case]]
name = "pulled"
card = "sim://visa-signature"
faults = { pull_after = 3 }
expected = { decision = "terminated", reason = "CARD_REMOVED", genac1 = "" }
""",
    )
    assert certify(str(suite), "--report", str(tmp_path / "out")) == 0


MALFORMED = {
    "toml-syntax": ("[[case]\nname='x'", "not valid TOML"),
    "no-cases": ('[suite]\nname = "empty"\n', "at least one [[case]]"),
    "unknown-case-key": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\ncolour = "red"\n',
        "case 'a'.colour: unknown key",
    ),
    "missing-card": ('[[case]]\nname = "a"\n', "case 'a'.card: required"),
    "bad-card-scheme": ('[[case]]\nname = "a"\ncard = "usb://x"\n', "case 'a'.card"),
    "missing-name": ('[[case]]\ncard = "sim://visa-sda"\n', "case #1: name"),
    "duplicate-name": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\n[[case]]\nname = "a"\ncard = "sim://visa-sda"\n',
        "case 'a': name: used by an earlier case",
    ),
    "bad-tvr-bit": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nexpected = { tvr_set = ["SDA_FAILD"] }\n',
        "case 'a'.expected.tvr_set: 'SDA_FAILD' is not a TVR bit",
    ),
    "tvr-wrong-length": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nexpected = { tvr = "0000" }\n',
        "case 'a'.expected.tvr: must be 5 bytes",
    ),
    "tvr-not-hex": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nexpected = { tvr = "zz00000000" }\n',
        "case 'a'.expected.tvr: not hex",
    ),
    "bad-decision": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nexpected = { decision = "maybe" }\n',
        "case 'a'.expected.decision",
    ),
    "bad-reason": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nexpected = { reason = "BORED" }\n',
        "case 'a'.expected.reason",
    ),
    "bad-cryptogram": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nexpected = { genac1 = "XYZ" }\n',
        "case 'a'.expected.genac1",
    ),
    "faults-on-real-card": (
        '[[case]]\nname = "a"\ncard = "pcsc://Reader"\nfaults = { pull_after = 2 }\n',
        "case 'a'.faults: only simulated",
    ),
    "unknown-fault": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nfaults = { melt = true }\n',
        "case 'a'.faults.melt: unknown key",
    ),
    "amount-text": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\ntransaction = { amount = "10" }\n',
        "case 'a'.transaction.amount",
    ),
    "bad-date": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\ntransaction = { date = "25/11/2026" }\n',
        "case 'a'.transaction.date",
    ),
    "bad-host-response": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nhost = { response = "shrug" }\n',
        "case 'a'.host.response",
    ),
    "script-not-71-72": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nhost = { scripts = ["8600"] }\n',
        "case 'a'.host.scripts[0]",
    ),
    "capabilities-length": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nterminal = { capabilities = "E0F8" }\n',
        "case 'a'.terminal.capabilities: must be 3 bytes",
    ),
    "unknown-aid-key": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\naid = { floor = 1 }\n',
        "case 'a'.aid[0].floor: unknown key",
    ),
    "pin-letters": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\npin = "12ab"\n',
        "case 'a'.pin",
    ),
    "profile-and-card": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nprofile = "x.toml"\n',
        "case 'a'.profile: give either card or profile",
    ),
    "profile-missing": (
        '[[case]]\nname = "a"\nprofile = "cards/none.toml"\n',
        "case 'a'.profile: no card profile file cards/none.toml",
    ),
    "exception-file-not-pans": (
        '[[case]]\nname = "a"\ncard = "sim://visa-sda"\nterminal = { exception_file = ["12ab"] }\n',
        "case 'a'.terminal.exception_file: a list of PANs",
    ),
    "unknown-default-key": (
        '[defaults]\nwobble = 1\n[[case]]\nname = "a"\ncard = "sim://visa-sda"\n',
        "[defaults].wobble: unknown key",
    ),
}


@pytest.mark.parametrize("key", sorted(MALFORMED))
def test_malformed_suite_is_a_usage_error_naming_the_case_and_key(
    key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, message = MALFORMED[key]
    out = tmp_path / "out"
    assert certify(str(write(tmp_path, text)), "--report", str(out)) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    assert not (out / "junit.xml").exists()


def test_missing_suite_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert certify(str(tmp_path / "nope.toml"), "--report", str(tmp_path / "o")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_builtin_suite_parses_with_enough_cases() -> None:
    suite = load_suite(builtin_suite_path())
    assert len(suite.cases) >= 25
    # every case says which book clauses its expectation comes from
    assert all(case.book and case.expected.decision for case in suite.cases)
    profiles = {case.card.removeprefix("sim://") for case in suite.cases}
    assert len(profiles) >= 15


def test_builtin_suite_passes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert certify("--report", str(out)) == 0
    root = ET.parse(out / "junit.xml").getroot()
    assert int(root.get("tests", "0")) >= 25
    assert (root.get("failures"), root.get("errors")) == ("0", "0")


def test_suite_error_names_where() -> None:
    with pytest.raises(SuiteError) as caught:
        load_suite(Path("/nonexistent/suite.toml"))
    assert caught.value.where == "/nonexistent/suite.toml"


def test_a_file_in_a_recording_suite_that_is_not_a_recording_is_an_error(tmp_path: Path) -> None:
    recorded = Path(__file__).resolve().parents[2] / "terminal/data/certify"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "08-sda.json").write_bytes((recorded / "08-sda.json").read_bytes())
    (suite / "09-junk.json").write_text('{"format": "other"}')
    assert certify(str(suite), "--report", str(tmp_path / "out")) == 1
    root = ET.parse(tmp_path / "out/junit.xml").getroot()
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("2", "1", "0")


def test_a_suite_may_bring_its_own_card_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The profile path is relative to the suite file, wherever certify is run from."""
    cards = tmp_path / "lab" / "cards"
    cards.mkdir(parents=True)
    source = builtin_suite_path().parent / "cards" / "new-card.toml"
    (cards / "mine.toml").write_text(source.read_text())
    suite = write(
        tmp_path / "lab",
        """
[[case]]
name = "own-card"
profile = "cards/mine.toml"
aid = [{ floor_limit = 5000 }, { aid = "A0000000031010", app_version = "0096" }]
expected = { decision = "approved_offline", tvr = "0008000000" }
""",
    )
    monkeypatch.chdir(tmp_path)
    assert certify(str(suite), "--report", str(tmp_path / "out")) == 0


def test_builtin_issuer_data_is_the_real_arpc_and_script_mac() -> None:
    """If the transaction's ARQC inputs change, the suite's 91/scripts must be remade
    (``python -m tests.terminal.certify_issuer``) - otherwise the success cases would
    silently turn into failure cases."""
    from tests.terminal.certify_issuer import ISSUER_CASES, issuer_data

    cases = {case.name: case for case in load_suite(builtin_suite_path()).cases}
    for name in ISSUER_CASES:
        data91, scripts = issuer_data(cases[name])
        assert cases[name].host.issuer_authentication_data == data91, name
        assert cases[name].host.scripts == scripts, name


def test_unwritable_report_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert certify(str(write(tmp_path, PASSING)), "--report", str(blocker / "out")) == 2
    err = capsys.readouterr().err
    assert "cannot write reports" in err and "Traceback" not in err


def test_a_kernel_exception_is_that_case_s_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import terminal.certify.runner as runner

    def explode(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(runner, "run_context", explode)
    out = tmp_path / "out"
    assert certify(str(write(tmp_path, PASSING)), "--report", str(out)) == 1
    error = ET.parse(out / "junit.xml").getroot().find("testcase/error")
    assert error is not None and "kernel raised RuntimeError: boom" in (error.get("message") or "")


def test_cases_start_from_the_given_terminal_configuration(tmp_path: Path) -> None:
    """A [[aids]] floor limit of 10.00 in the config makes 15.00 exceed it."""
    config = tmp_path / "posterm.toml"
    config.write_text(
        f"""
[terminal]
data_dir = "{tmp_path}"
[host]
url = "tcp://127.0.0.1:8583"
[[merchants]]
name = "Lab"
tid = "TERM0001"
mid = "MERCHANT0000001"
[[aids]]
aid = "A0000000032010"
floor_limit = 1000
app_version = "0096"
"""
    )
    suite = write(
        tmp_path,
        """
[[case]]
name = "config-floor"
card = "sim://visa-sda"
expected = { decision = "approved_online", tvr = "0200008000" }
""",
    )
    out = tmp_path / "out"
    assert certify(str(suite), "--config", str(config), "--report", str(out)) == 0
    assert certify(str(suite), "--report", str(out)) == 1  # built-in floor limit differs


def test_a_bad_configuration_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "posterm.toml"
    config.write_text("[terminal]\n")
    suite = write(tmp_path, PASSING)
    assert certify(str(suite), "--config", str(config), "--report", str(tmp_path / "o")) == 2
    assert "config" in capsys.readouterr().err
