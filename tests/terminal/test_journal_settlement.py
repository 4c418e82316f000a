"""Journal: the settlement write-ahead record (schema 2) and the read-only advice
response look-up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from terminal.journal import Journal, NewTransaction, TxnType

TID, MID = "TERM0001", "MERCHANT0000001"


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "j.db", data_key=bytes(range(32)))
    yield j
    j.close()


def sale(journal: Journal, **kw: object) -> int:
    new = NewTransaction("Main", TID, MID, TxnType.SALE, 100, "826", "1125093000", **kw)  # type: ignore[arg-type]
    return journal.create_transaction(new).id


def test_write_ahead_record_lives_until_the_batch_closes(journal: Journal) -> None:
    assert journal.open_settlements() == []
    first = journal.begin_settlement(TID, MID, "Main", {"debit_count": 1}, "sup")
    (open_,) = journal.open_settlements()
    assert (open_.id, open_.batch, open_.state, open_.merchant) == (first, 1, "requested", "Main")
    journal.settlement_uploading(first, 0)
    assert journal.open_settlements()[0].state == "uploading"
    # Settling again (after a crash) reuses the same record for the same batch.
    assert journal.begin_settlement(TID, MID, "Main", {"debit_count": 1}) == first
    assert journal.open_settlements()[0].state == "requested"
    assert journal.close_batch(TID, MID, "Main", {"debit_count": 1}, 3, first) == 1
    assert journal.open_settlements() == []
    # The next batch gets a record of its own.
    second = journal.begin_settlement(TID, MID, "Main", {})
    assert second != first and journal.open_settlements()[0].batch == 2


def test_refused_settlement_is_not_resumed(journal: Journal) -> None:
    attempt = journal.begin_settlement(TID, MID, "Main", {})
    journal.settlement_failed(attempt, "12")
    assert journal.open_settlements() == []
    assert journal.current_batch(TID, MID) == 1  # still open here, as at the host


def test_close_without_a_record_still_closes_any_open_one(journal: Journal) -> None:
    journal.begin_settlement(TID, MID, "Main", {})
    journal.close_batch(TID, MID, "Main", {}, 0)
    assert journal.open_settlements() == []


def test_schema_2_migrates_a_schema_1_journal(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE settlements")
        db.execute("PRAGMA user_version = 1")
    with Journal(path) as journal:
        assert journal.schema_version == 2
        assert journal.open_settlements() == []


def test_advice_response_is_read_only_and_none_until_acknowledged(journal: Journal) -> None:
    txn = sale(journal, offline=True)
    assert journal.advice_response(txn) is None  # no advice at all
    journal.complete_offline(txn, approved=True, response_code="Y1", advice={39: "Y1"})
    assert journal.advice_response(txn) is None  # queued, not answered
    (advice,) = journal.pending_advices()
    journal.advice_acknowledged(advice.id, "25", None)
    assert journal.advice_response(txn) == "25"
