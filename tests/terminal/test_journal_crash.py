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
from tests.terminal.hostpeer import Peer, Seen, parse_de48

ROOT = Path(__file__).resolve().parents[2]


def script(seen: Seen) -> object:
    if seen.mti == "0200" and seen.fields.get("4") == "000000002222":
        return "silence"
    if seen.mti == "0500" and seen.fields.get("3") == "920000":
        return {"39": "95"}
    return {"37": f"{int(seen.fields.get('11', '0')):012d}"}


class StrictHost:
    """``script`` plus a real acquirer's batches: a 0500 for an open batch gets 95 (920000)
    then closes it (960000 00); a repeated 0500 for a batch it closed gets the same 00;
    new business naming a closed batch (DE 48 BN) gets 12."""

    def __init__(self) -> None:
        self.closed: dict[str, dict[str, str]] = {}

    def __call__(self, seen: Seen) -> object:
        batch = parse_de48(seen.fields.get("48", "")).get("BN")
        if seen.mti == "0500":
            if batch in self.closed:
                return {"39": "00"}
            if seen.fields.get("3") == "920000":
                return {"39": "95"}
            self.closed[batch or ""] = {
                de: seen.fields.get(de, "") for de in ("74", "76", "86", "88")
            }
            return {"39": "00"}
        if seen.mti in ("0100", "0200", "0220", "0320") and batch in self.closed:
            return {"39": "12"}
        return script(seen)


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


def matches_host_batches(directory: Path, host: StrictHost) -> None:
    """Every batch the host closed is closed in the journal with the totals the host
    accepted, and the open batch is one the host has not closed."""
    with Journal(directory / "journal.db", data_key=bytes(range(32))) as journal:
        tid, mid = "TERM0001", "MERCHANT0000001"
        assert f"{journal.current_batch(tid, mid):06d}" not in host.closed
        assert journal.open_settlements() == []
        closed = {f"{b['batch']:06d}": b["totals"] for b in journal.closed_batches(tid, mid)}
        assert set(closed) == set(host.closed)
        for number, fields in host.closed.items():
            totals = closed[number]
            assert (int(fields["74"]), int(fields["76"])) == (
                totals["credit_count"],
                totals["debit_count"],
            )
            assert (int(fields["86"]), int(fields["88"])) == (
                totals["credit_amount"],
                totals["debit_amount"],
            )


def test_recover_sale_after_kill_between_host_close_and_local_close(tmp_path: Path) -> None:
    """The gap itself, fast: killed right after the settlement's 0320s (the write before
    the local close), the restart finishes the close and the next sale is approved."""
    strict = StrictHost()
    peer = Peer(strict)
    try:
        total = _writes(tmp_path)
        # The last write of the day is the local batch close: die just before it commits.
        killed = worker(tmp_path / "gap", peer.port, str(total))
        assert killed.returncode == -signal.SIGKILL
        assert strict.closed, "the host closed the batch before the kill"
        again = worker(tmp_path / "gap", peer.port, None, "recover-sale")
        assert again.returncode == 0, again.stderr
        assert "sale=approved" in again.stdout.split(), again.stdout
        check(tmp_path / "gap", peer)
        matches_host_batches(tmp_path / "gap", strict)
    finally:
        peer.close()


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
        strict = StrictHost()
        peer = Peer(strict)
        try:
            killed = worker(directory, peer.port, f"{n}:{when}" if when == "after" else str(n))
            assert killed.returncode == -signal.SIGKILL, (n, killed.stdout, killed.stderr)
            again = worker(directory, peer.port, None, "recover-sale")
            assert again.returncode == 0, (n, again.stderr)
            # An ordinary sale after the restart is approved: the terminal never keeps a
            # batch open that the host closed (an interrupted settlement is finished first).
            assert "sale=approved" in again.stdout.split(), (n, again.stdout)
            check(directory, peer)
            matches_host_batches(directory, strict)
        finally:
            peer.close()
