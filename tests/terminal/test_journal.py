"""terminal.journal: write-ahead reversal arming, queues, counters, totals, retention."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from terminal.journal import (
    Journal,
    JournalError,
    NewTransaction,
    PanCipherError,
    Status,
    TxnType,
)
from terminal.journal.scrub import scrub_tlv

KEY = bytes(range(32))
PAN = "4761739001010010"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def new(txn_type: TxnType = TxnType.SALE, amount: int = 1000, **kw: object) -> NewTransaction:
    args: dict[str, object] = {
        "merchant": "Main",
        "tid": "TERM0001",
        "mid": "MERCHANT0000001",
        "type": txn_type,
        "amount": amount,
        "currency": "826",
        "local_datetime": "1125093000",
        "pan": PAN,
        "entry_mode": "051",
        "scheme": "visa",
    }
    args.update(kw)
    return NewTransaction(**args)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(tmp_path: Path, clock: Clock) -> Journal:
    j = Journal(tmp_path / "j.db", data_key=KEY, clock=clock)
    yield j
    j.close()


def test_pragmas_and_schema(journal: Journal) -> None:
    db = sqlite3.connect(journal.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal.schema_version >= 1
    assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_stan_increments_and_wraps(journal: Journal) -> None:
    assert journal.next_stan() == "000001"
    assert journal.next_stan() == "000002"
    journal.set_counter("stan", 999_998)
    assert journal.next_stan() == "999999"
    assert journal.next_stan() == "000001"  # host-spec DE 11: wraps, never 000000


def test_online_sale_approved_cancels_armed_reversal(journal: Journal, tmp_path: Path) -> None:
    txn = journal.create_transaction(
        new(),
        mti="0200",
        request={3: "000000", 4: "000000001000", 35: "4761=2512"},
        arm_reversal=True,
    )
    assert txn.status is Status.PENDING and txn.stan == "000001"
    assert 35 not in txn.request and txn.request[11] == "000001"
    # A crash now would reverse it: reopen and recover.
    other = Journal(tmp_path / "j.db", data_key=KEY)
    assert other.pending_reversals() == []  # armed is not queued until recovery
    other.close()
    done = journal.record_response(
        txn.id, approved=True, fields={39: "00", 37: "123456789012", 38: "A1B2C3"}
    )
    assert done.status is Status.APPROVED and done.rrn == "123456789012"
    assert journal.recover() == 0
    assert journal.pan(txn.id) == PAN
    assert done.pan_masked == "476173******0010"


def test_crash_before_response_is_reversed_at_boot(journal: Journal, tmp_path: Path) -> None:
    txn = journal.create_transaction(new(), mti="0200", request={3: "000000"}, arm_reversal=True)
    journal.close()
    again = Journal(tmp_path / "j.db", data_key=KEY)
    assert again.recover() == 1
    (rev,) = again.pending_reversals()
    assert rev.txn_id == txn.id and rev.stan == "000002" and rev.attempts == 0
    assert again.transaction(txn.id).status is Status.REVERSAL_PENDING
    assert again.transaction(txn.id).masked()["status"] == "pending"
    again.reversal_attempted(rev.id)
    assert again.pending_reversals()[0].attempts == 1
    again.reversal_acknowledged(rev.id, "00")
    assert again.pending_reversals() == []
    assert again.transaction(txn.id).status is Status.REVERSED
    again.close()


def test_card_decline_after_host_approval_queues_reversal(journal: Journal) -> None:
    txn = journal.create_transaction(new(), mti="0200", request={}, arm_reversal=True)
    journal.record_response(txn.id, approved=True, fields={39: "00"}, final=False)
    assert journal.transaction(txn.id).status is Status.PENDING
    journal.finish(txn.id, approved=False, reason="card declined (AAC)")
    assert journal.transaction(txn.id).status is Status.REVERSAL_PENDING
    assert [r.txn_id for r in journal.pending_reversals()] == [txn.id]


def test_void_marks_original_voided_and_totals_exclude_both(journal: Journal) -> None:
    sale = journal.create_transaction(new(amount=500), request={}, arm_reversal=True)
    journal.record_response(sale.id, approved=True, fields={39: "00", 37: "000000000001"})
    refund = journal.create_transaction(new(TxnType.REFUND, 200), request={}, arm_reversal=True)
    journal.record_response(refund.id, approved=True, fields={39: "00"})
    sale2 = journal.create_transaction(new(amount=700, scheme="mastercard"), arm_reversal=True)
    journal.record_response(sale2.id, approved=True, fields={39: "00"})
    void = journal.create_transaction(
        new(TxnType.VOID, 500, original_id=sale.id), arm_reversal=True
    )
    journal.record_response(void.id, approved=True, fields={39: "00"})
    declined = journal.create_transaction(new(amount=900), arm_reversal=True)
    journal.record_response(declined.id, approved=False, fields={39: "51"})
    pre = journal.create_transaction(new(TxnType.PREAUTH, 5000), arm_reversal=True)
    journal.record_response(pre.id, approved=True, fields={39: "00"})
    assert journal.transaction(sale.id).status is Status.VOIDED
    total, per_scheme = journal.batch_totals("TERM0001", "MERCHANT0000001")
    assert (total.debit_count, total.debit_amount) == (1, 700)
    assert (total.credit_count, total.credit_amount) == (1, 200)
    assert per_scheme["mastercard"].debit_amount == 700
    assert per_scheme["visa"].credit_amount == 200


def test_offline_approval_and_advice_are_one_commit(journal: Journal) -> None:
    txn = journal.create_transaction(new(offline=True))
    journal.complete_offline(
        txn.id, approved=True, response_code="Y1", advice={3: "000000", 39: "Y1", 52: b"x" * 8}
    )
    second = journal.create_transaction(new(offline=True))
    journal.complete_offline(second.id, approved=True, response_code="Y3", advice={39: "Y3"})
    advices = journal.pending_advices()
    assert [a.txn_id for a in advices] == [txn.id, second.id]  # in the order they happened
    assert 52 not in advices[0].fields
    journal.advice_acknowledged(advices[0].id, "94", None)
    assert [a.txn_id for a in journal.pending_advices()] == [second.id]


def test_batch_close_increments_and_settles(journal: Journal) -> None:
    sale = journal.create_transaction(new(), arm_reversal=True)
    journal.record_response(sale.id, approved=True, fields={39: "00"})
    assert journal.current_batch("TERM0001", "MERCHANT0000001") == 1
    assert journal.close_batch("TERM0001", "MERCHANT0000001", "Main", {"d": 1}, 0) == 1
    assert journal.current_batch("TERM0001", "MERCHANT0000001") == 2
    assert journal.batch_transactions("TERM0001", "MERCHANT0000001") == []
    assert journal.transaction(sale.id).settled
    # Another merchant's batch is untouched.
    assert journal.current_batch("TERM0002", "MERCHANT0000002") == 1
    nxt = journal.create_transaction(new())
    assert nxt.batch == 2


def test_retention_purges_only_old_settled(journal: Journal, clock: Clock) -> None:
    old = journal.create_transaction(new(), arm_reversal=True)
    journal.record_response(old.id, approved=True, fields={39: "00"})
    journal.close_batch("TERM0001", "MERCHANT0000001", "Main", {}, 0)
    clock.now += 40 * 86400
    recent = journal.create_transaction(new(), arm_reversal=True)
    journal.record_response(recent.id, approved=True, fields={39: "00"})
    assert journal.purge(30) == 1
    with pytest.raises(JournalError):
        journal.transaction(old.id)
    assert journal.transaction(recent.id).status is Status.APPROVED


def test_wrong_data_key_refused(journal: Journal, tmp_path: Path) -> None:
    journal.create_transaction(new())
    other = Journal(tmp_path / "j.db", data_key=b"\x01" * 32)
    with pytest.raises(JournalError, match="data key does not match"):
        other.create_transaction(new())
    no_key = Journal(tmp_path / "j.db")
    with pytest.raises(PanCipherError):
        no_key.create_transaction(new())
    assert no_key.create_transaction(new(pan=None)).pan_masked is None


def test_illegal_transition_refused(journal: Journal) -> None:
    txn = journal.create_transaction(new(), arm_reversal=True)
    journal.record_response(txn.id, approved=True, fields={39: "00"})
    with pytest.raises(JournalError, match="is approved"):
        journal.no_valid_response(txn.id)
    armed = journal.create_transaction(new(), arm_reversal=True)
    with pytest.raises(JournalError, match="armed reversal"):
        journal.terminate(armed.id, "cancelled")


def test_search(journal: Journal) -> None:
    a = journal.create_transaction(new(amount=111), arm_reversal=True)
    journal.record_response(a.id, approved=True, fields={39: "00", 37: "RRN000000001"})
    journal.create_transaction(new(TxnType.REFUND, 222, pan="5413330089010434"))
    assert [t.id for t in journal.search(rrn="RRN000000001")] == [a.id]
    assert [t.amount for t in journal.search(pan_last4="0434")] == [222]
    assert len(journal.search(txn_type="refund")) == 1
    assert journal.last_transaction().amount == 222


def test_newer_schema_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "n.db")
    db.execute("PRAGMA user_version = 999")
    db.close()
    with pytest.raises(JournalError, match="newer"):
        Journal(tmp_path / "n.db")


def test_scrub_tlv_removes_track_and_pan_even_nested() -> None:
    from emv import tlv

    data = tlv.encode(
        [
            tlv.Tlv(0x9F26, b"\x01" * 8),
            tlv.Tlv(0x57, bytes.fromhex("4761739001010010D25122")),
            tlv.Tlv(
                0x70,
                b"",
                (tlv.Tlv(0x5A, bytes.fromhex("4761739001010010")), tlv.Tlv(0x9F36, b"\x00\x01")),
            ),
        ]
    )
    out = scrub_tlv(data)
    assert bytes.fromhex("4761739001010010") not in out
    assert b"\x9f\x26" in out and b"\x9f\x36" in out
    assert scrub_tlv(b"\x9f") == b""


def test_audit_trail(journal: Journal) -> None:
    journal.audit("op1", "login", {"ok": True})
    assert journal.audit_trail()[0]["event"] == "login"


def test_owner_lock_is_exclusive(tmp_path: Path) -> None:
    from terminal.journal import JournalBusy

    first = Journal(tmp_path / "o.db")
    second = Journal(tmp_path / "o.db")
    first.claim_owner()
    with pytest.raises(JournalBusy):
        second.claim_owner(timeout=0.1)
    first.close()
    second.claim_owner()
    second.close()
