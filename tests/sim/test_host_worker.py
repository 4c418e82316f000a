"""sim.host.worker and Ledger.group: one thread processes queued requests, each in its own
SAVEPOINT, and commits them with one fsync before any answer is released."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

from sim.host import HostSimulator, Ledger, rules_from_dict
from sim.host.errors import HostError
from sim.host.processor import Reply
from sim.host.worker import RequestWorker, ResponseNotEncodable
from tests.sim.test_host_client import TEST_BDK, Client

VISA = "4761739001010010"
RULES = {"host": {"today": "2026-11-25"}, "cards": [{"pan": VISA, "pin": "1234"}]}


def _stan_rows(path: Path) -> set[str]:
    """What another process would see on disk (its own SQLite connection)."""
    with sqlite3.connect(path) as other:
        return {row[0] for row in other.execute("SELECT stan FROM stans")}


def _violate_on_commit(ledger: Ledger) -> None:
    """Make the next COMMIT fail for real: a deferred foreign key left dangling."""
    db = ledger._db
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS child (pid INTEGER REFERENCES parent(id)"
        " DEFERRABLE INITIALLY DEFERRED)"
    )


def test_group_is_invisible_until_it_commits_and_rolls_back_requests_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "l.db"
    with Ledger(path) as ledger:
        with ledger.group():
            with ledger.transaction():
                ledger.mark_stan("T", "000001", "000001", "0200")
            with pytest.raises(RuntimeError), ledger.transaction():
                ledger.mark_stan("T", "000001", "000002", "0200")
                raise RuntimeError("this request fails")
            with ledger.transaction():
                ledger.mark_stan("T", "000001", "000003", "0200")
            assert _stan_rows(path) == set()  # nothing durable, nothing answered yet
        assert _stan_rows(path) == {"000001", "000003"}


def test_groups_do_not_nest(tmp_path: Path) -> None:
    with (
        Ledger(tmp_path / "l.db") as ledger,
        ledger.group(),
        pytest.raises(RuntimeError, match="nest"),
        ledger.group(),
    ):
        pass


def test_failed_group_commit_raises_and_stores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Ledger(path) as ledger:
        _violate_on_commit(ledger)
        with pytest.raises(sqlite3.IntegrityError), ledger.group():
            with ledger.transaction():
                ledger.mark_stan("T", "000001", "000001", "0200")
            with ledger.transaction():
                ledger._db.execute("INSERT INTO child VALUES (42)")
        assert _stan_rows(path) == set()
        with ledger.transaction():  # the ledger goes on working after the failure
            ledger.mark_stan("T", "000001", "000004", "0200")
        assert _stan_rows(path) == {"000004"}


def test_a_thread_waiting_on_a_failed_commit_is_told(tmp_path: Path) -> None:
    """A request outside any group whose rows shared the failed COMMIT must not be
    answered as if stored."""
    with Ledger(tmp_path / "l.db") as ledger:
        _violate_on_commit(ledger)
        with ledger.transaction():  # starts the committer thread
            pass
        with pytest.raises(sqlite3.OperationalError, match="not stored"), ledger.transaction():
            ledger._db.execute("INSERT INTO child VALUES (7)")


class _ScriptedProcessor:
    """Stands in for Processor: what it does per request is set by the test."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.seen: list[str] = []
        self.release = threading.Event()

    def handle(self, raw: bytes, fields: Mapping[str, str], conn: int) -> Reply:
        stan = fields["11"]
        self.seen.append(stan)
        if fields.get("do") == "block":
            self.release.wait(10)
        with self.ledger.transaction():
            self.ledger.mark_stan("T", "000001", stan, "0200")
            if fields.get("do") == "bug":
                raise ZeroDivisionError("a bug in the processor")
            if fields.get("do") == "refuse":
                raise HostError("refused")
            if fields.get("do") == "poison-commit":
                self.ledger._db.execute("INSERT INTO child VALUES (9)")
        return Reply({"t": "0210", "11": stan, "39": "00"}, None)


def _encode(reply: Reply) -> bytes:
    if reply.fields["11"] == "000666":
        raise HostError("field 4 too long")
    return reply.fields["11"].encode()


def _worker(tmp_path: Path) -> tuple[RequestWorker, _ScriptedProcessor, Ledger]:
    ledger = Ledger(tmp_path / "l.db")
    processor = _ScriptedProcessor(ledger)
    worker = RequestWorker(processor, ledger, _encode)  # type: ignore[arg-type]
    worker.start()
    return worker, processor, ledger


def test_worker_answers_in_order_and_fails_only_the_broken_request(tmp_path: Path) -> None:
    worker, processor, ledger = _worker(tmp_path)
    try:
        reply, frame = worker.run(b"", {"11": "000001"}, 1)
        assert reply.fields["39"] == "00" and frame == b"\x00\x06000001"
        with pytest.raises(HostError, match="internal error \\(ZeroDivisionError\\)"):
            worker.run(b"", {"11": "000002", "do": "bug"}, 1)
        with pytest.raises(HostError, match="refused"):
            worker.run(b"", {"11": "000003", "do": "refuse"}, 1)
        with pytest.raises(ResponseNotEncodable, match="too long"):
            worker.run(b"", {"11": "000666"}, 1)
        assert worker.run(b"", {"11": "000004"}, 1)[1].endswith(b"000004")
        assert processor.seen == ["000001", "000002", "000003", "000666", "000004"]
    finally:
        worker.stop()
        ledger.close()
    # the failed requests rolled back; the unencodable one was processed and stored
    assert _stan_rows(tmp_path / "l.db") == {"000001", "000666", "000004"}


def test_worker_commit_failure_fails_every_request_of_its_group(tmp_path: Path) -> None:
    worker, processor, ledger = _worker(tmp_path)
    _violate_on_commit(ledger)
    results: dict[str, str] = {}

    def call(stan: str, do: str = "") -> None:
        try:
            worker.run(b"", {"11": stan, "do": do}, 1)
            results[stan] = "answered"
        except HostError as exc:
            results[stan] = str(exc)

    blocker = threading.Thread(target=call, args=("000009", "block"))
    blocker.start()
    while processor.seen != ["000009"]:  # the worker is busy with the first group
        threading.Event().wait(0.01)
    threads = [
        threading.Thread(target=call, args=("000010",)),
        threading.Thread(target=call, args=("000011", "poison-commit")),
    ]
    for t in threads:
        t.start()
    while len(worker._queue) < 2:  # both queued: they form the next group together
        threading.Event().wait(0.01)
    processor.release.set()
    for t in [blocker, *threads]:
        t.join(10)
    try:
        assert results["000009"] == "answered"
        assert results["000010"].startswith("ledger commit failed")
        assert results["000011"].startswith("ledger commit failed")
        assert _stan_rows(tmp_path / "l.db") == {"000009"}
        assert worker.run(b"", {"11": "000012"}, 1)[0].fields["39"] == "00"  # still serving
    finally:
        worker.stop()
        ledger.close()


def test_stopped_worker_refuses_new_requests(tmp_path: Path) -> None:
    worker, _, ledger = _worker(tmp_path)
    worker.stop()
    with pytest.raises(HostError, match="stopping"):
        worker.run(b"", {"11": "000001"}, 1)
    ledger.close()


def test_concurrent_connections_share_commits_and_every_answer_is_durable(
    tmp_path: Path,
) -> None:
    """20 terminals at once: every sale approved and on disk when answered, in fewer
    COMMITs than requests (the group commit is what sustains bench/bench_host.py)."""
    per_client, clients = 10, 20
    failures: list[str] = []
    with HostSimulator(rules_from_dict(RULES), tmp_path / "ledger.db", TEST_BDK) as host:
        first_batch = host.ledger._batch
        start = threading.Barrier(clients)

        def terminal(n: int) -> None:
            client = Client(host.port, tid=f"TERM{n:04d}").connect()
            try:
                start.wait(10)
                for _ in range(per_client):
                    response = client.sale(VISA, 100, pin="1234")
                    if response.rc != "00":
                        failures.append(f"TERM{n:04d}: {response.rc}")
                    stan = response.fields["11"]
                    with sqlite3.connect(tmp_path / "ledger.db") as other:
                        row = other.execute(
                            "SELECT rc FROM txns WHERE tid=? AND stan=?", (f"TERM{n:04d}", stan)
                        ).fetchone()
                    if row != ("00",):
                        failures.append(f"TERM{n:04d} {stan} answered before stored: {row}")
            finally:
                client.close()

        threads = [threading.Thread(target=terminal, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        commits = host.ledger._batch - first_batch
        assert failures == []
        assert len(host.ledger.charges(pan=VISA)) == per_client * clients
        assert 0 < commits < per_client * clients
