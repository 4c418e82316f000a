"""Crash safety: SIGKILL at every journal write of a day's work, then reboot and check
the journal against the host's record (host-spec rule 4: nothing lost, no double charge,
every unanswered request reversed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from terminal.journal import Journal, Status
from tests.terminal.hostpeer import Peer, Seen

ROOT = Path(__file__).resolve().parents[2]


def script(seen: Seen) -> object:
    if seen.mti == "0200" and seen.fields.get("4") == "000000002222":
        return "silence"
    if seen.mti == "0500" and seen.fields.get("3") == "920000":
        return {"39": "95"}
    return {"37": f"{int(seen.fields.get('11', '0')):012d}"}


def worker(
    directory: Path, port: int, crash: str | None, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("POSTERM_JOURNAL_CRASH", None)
    if crash:
        env["POSTERM_JOURNAL_CRASH"] = crash
    return subprocess.run(
        [sys.executable, "-m", "tests.terminal.crash_worker", str(directory), str(port), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def host_view(seen: list[Seen]) -> tuple[set[str], set[str], set[str]]:
    """(STANs the host approved in a 0200, STANs reversed by a 0400/0401, amounts advised)."""
    approved = {
        s.fields["11"] for s in seen if s.mti == "0200" and s.fields.get("4") != "000000002222"
    }
    reversed_ = {s.fields["90"][4:10] for s in seen if s.mti in ("0400", "0401")}
    advised = {s.fields["4"] for s in seen if s.mti == "0220"}
    return approved, reversed_, advised


def check(directory: Path, peer: Peer) -> None:
    with Journal(directory / "journal.db", data_key=bytes(range(32))) as journal:
        assert journal.integrity_ok()
        rows = list(journal.transactions())
        assert journal.pending_reversals() == []
        assert journal.pending_advices() == []
        approved, reversed_, advised = host_view(peer.seen)
        for txn in rows:
            assert txn.status not in (Status.PENDING, Status.REVERSAL_PENDING), txn.status
            if txn.mti == "0200" and txn.stan in approved - reversed_:
                # The host holds it: the terminal must too (nothing lost).
                assert txn.status in (Status.APPROVED, Status.VOIDED), (txn.id, txn.status)
            if txn.status in (Status.APPROVED, Status.VOIDED) and not txn.offline:
                # The terminal counts it: the host must hold it, unreversed (no phantom).
                assert txn.stan in approved and txn.stan not in reversed_
            if txn.offline and txn.status is Status.APPROVED:
                assert f"{txn.amount:012d}" in advised  # advised to the host
        # Every request the host saw without a recorded outcome was reversed.
        recorded = {
            t.stan for t in rows if t.status in (Status.APPROVED, Status.VOIDED, Status.DECLINED)
        }
        for stan in {s.fields["11"] for s in peer.seen if s.mti == "0200"} - recorded:
            assert stan in reversed_, stan


def test_worker_runs_clean(tmp_path: Path) -> None:
    peer = Peer(script)
    try:
        done = worker(tmp_path, peer.port, None)
        assert done.returncode == 0, done.stderr
        assert int(done.stdout.split()[-1]) > 20
        check(tmp_path, peer)
    finally:
        peer.close()


def _writes(tmp_path: Path) -> int:
    peer = Peer(script)
    try:
        return int(worker(tmp_path / "count", peer.port, None).stdout.split()[-1])
    finally:
        peer.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("when", ["before", "after"])
def test_sigkill_at_every_write(tmp_path: Path, when: str) -> None:
    total = _writes(tmp_path)
    for n in range(1, total + 1):
        directory = tmp_path / f"{when}-{n}"
        peer = Peer(script)
        try:
            killed = worker(directory, peer.port, f"{n}:{when}" if when == "after" else str(n))
            assert killed.returncode == -signal.SIGKILL, (n, killed.stdout, killed.stderr)
            again = worker(directory, peer.port, None, "recover-only")
            assert again.returncode == 0, (n, again.stderr)
            check(directory, peer)
        finally:
            peer.close()
