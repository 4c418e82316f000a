"""`posterm sim host` as a process: it listens, answers, stops cleanly on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from sim.host import Ledger
from tests.sim.test_host_client import Client

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "sim" / "host" / "rules-example.toml"


def _posterm(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "terminal", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sim_host_serves_and_stops(tmp_path: Path) -> None:
    ledger = tmp_path / "host.db"
    proc = _posterm("sim", "host", "--port", "0", "--rules", str(EXAMPLE), "--ledger", str(ledger))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, line
        client = Client(int(match.group(1))).connect()
        try:
            assert client.exchange(client.base("0800", **{"70": "301"}), mac=False).rc == "00"
            assert client.sale("4761739001010010", 1234, pin="1234").rc == "00"
        finally:
            client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    with Ledger(ledger) as reopened:
        assert [t.amount for t in reopened.charges(pan="4761739001010010")] == [1234]


def test_sim_host_bad_rules_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text("[[cards]]\npan = 'x1'\n")
    proc = _posterm(
        "sim", "host", "--port", "0", "--rules", str(bad), "--ledger", str(tmp_path / "l.db")
    )
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "cards[0].pan" in err


def test_sigkill_loses_no_answered_authorisation(tmp_path: Path) -> None:
    """Durability: every approval the host answered is in the ledger after a SIGKILL
    (responses leave only after their group commit, synchronous=FULL)."""
    ledger = tmp_path / "host.db"
    proc = _posterm("sim", "host", "--port", "0", "--rules", str(EXAMPLE), "--ledger", str(ledger))
    approved = []
    try:
        assert proc.stdout is not None
        match = re.search(r"127\.0\.0\.1:(\d+)", proc.stdout.readline())
        assert match
        client = Client(int(match.group(1))).connect()
        for n in range(25):
            resp = client.sale("4761739001010010", 100 + n)
            assert resp.rc == "00"
            approved.append(resp.fields["37"])
    finally:
        proc.kill()
        proc.wait(timeout=10)
    with Ledger(ledger) as reopened:
        assert [t.rrn for t in reopened.charges(pan="4761739001010010")] == approved
        assert reopened.integrity_check() == "ok"
