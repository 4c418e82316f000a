"""`posterm tlv`: named tree, spelled-out values, masking, errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from terminal.cli import main
from terminal.commands.tlv import parse_hex

# GPO response (format 2) from devnied/EMV-NFC-Paycard-Enrollment
# library/src/test/resources/data/VisaCardPpse (see tests/emv/data/card_responses.txt).
GPO = (
    "77389F100706011A2380400457134999999999999999D15092FFFFFFFFFFFFFF0F82022000"
    "9F3602028F9F2608FFFFFFFFFFFFFFFF9F6C021000"
)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["tlv", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tree_with_names_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, GPO)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "77 Response Message Template Format 2 [56 bytes]"
    assert "  82 Application Interchange Profile: 2000: DDA_SUPPORTED" in lines
    assert "  9F36 Application Transaction Counter (ATC): 655" in lines
    # track 2 masked: first 6 / last 4 of the PAN, nothing after the separator
    assert "  57 Track 2 Equivalent Data: 499999******9999D" + "*" * 20 in lines


def test_bit_fields_dates_amounts(capsys: pytest.CaptureFixture[str]) -> None:
    data = (
        "9505 8000048000 9B02 E800 9F3403 1F0302 5A08 4761739001010010 5F2403 291231"
        " 9F0206 000000001234 9A03 261125"
    )
    code, out, _ = run_cli(capsys, data)
    assert code == 0
    assert (
        "95 Terminal Verification Results: 8000048000: OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED,"
        " ONLINE_CVM_CAPTURED, FLOOR_LIMIT_EXCEEDED"
    ) in out
    assert "TERMINAL_RISK_MANAGEMENT_PERFORMED" in out
    assert "9F34 Cardholder Verification Method (CVM) Results: 1F0302: NO_CVM_REQUIRED" in out
    assert "5A Application Primary Account Number (PAN): 476173******0010" in out
    assert "4761739001010010" not in out
    assert "5F24 Application Expiration Date: 2029-12-31" in out
    assert "9F02 Amount, Authorised (Numeric): 1234" in out
    assert "9A Transaction Date: 2026-11-25" in out


def test_unknown_tag_and_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "DF7F0101 840E325041592E5359532E4444463031")
    assert code == 0
    assert "DF7F (unknown tag): 01" in out
    assert "(2PAY.SYS.DDF01)" in out


@pytest.mark.parametrize(
    ("arg", "words"),
    [
        ("9F02zz", "not hexadecimal: 'z' at character 4"),
        ("9F020", "odd number of hex digits"),
        ("9F0206000000", "overruns its container by 3 at offset 2"),
        ("9F028000", "bad length form 0x80 at offset 2"),
    ],
)
def test_errors_exit_2_with_offset(
    capsys: pytest.CaptureFixture[str], arg: str, words: str
) -> None:
    code, out, err = run_cli(capsys, arg)
    assert code == 2
    assert out == ""
    assert words in err
    assert "Traceback" not in err


def test_lenient_reports_quirks_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--lenient", "9F3604000102")
    assert code == 0
    assert "9F36 Application Transaction Counter (ATC): 258" in out
    assert "tolerated at offset 2: tag 9F36: length 4 overruns by 1, cut" in err


def test_parse_hex_separators() -> None:
    assert parse_hex("6F 1A:84\n0E") == bytes.fromhex("6F1A840E")


def test_real_process_no_traceback() -> None:
    """The installed entry point, as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "terminal", "tlv", "9F02"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no length at offset 0" in result.stderr
    assert "Traceback" not in result.stderr
