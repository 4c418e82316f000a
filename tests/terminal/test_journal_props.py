"""Property tests: random days of transactions keep the journal's books straight."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.journal import Journal, NewTransaction, Status, TxnType

OUTCOMES = st.sampled_from(["approve", "decline", "timeout", "card_decline", "offline"])
OPS = st.lists(
    st.tuples(
        st.sampled_from([TxnType.SALE, TxnType.REFUND, TxnType.PREAUTH, TxnType.VOID]),
        st.integers(1, 10_000),
        OUTCOMES,
        st.sampled_from(["visa", "mastercard"]),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(OPS)
def test_totals_match_a_model(ops: list[tuple[TxnType, int, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.db", data_key=bytes(32)) as j:
        debits = credits = 0
        approved_sales: list[tuple[int, int]] = []
        stans: list[str] = []
        for txn_type, amount, outcome, scheme in ops:
            original = None
            if txn_type is TxnType.VOID:
                if not approved_sales:
                    continue
                original, amount = approved_sales[0]
            new = NewTransaction(
                "M",
                "TERM0001",
                "MERCHANT0000001",
                txn_type,
                amount,
                "826",
                "1125093015",
                pan="4761739001010010",
                scheme=scheme,
                original_id=original,
                offline=outcome == "offline",
            )
            txn = j.create_transaction(new, arm_reversal=outcome != "offline")
            stans.append(txn.stan)
            approved = False
            if outcome == "approve":
                j.record_response(txn.id, approved=True, fields={39: "00"})
                approved = True
            elif outcome == "decline":
                j.record_response(txn.id, approved=False, fields={39: "05"})
            elif outcome == "timeout":
                j.no_valid_response(txn.id)
                rev = j.pending_reversals()[-1]
                stans.append(rev.stan)
                j.reversal_acknowledged(rev.id, "00")
            elif outcome == "card_decline":
                j.record_response(txn.id, approved=True, fields={39: "00"}, final=False)
                j.finish(txn.id, approved=False)
                stans.append(j.pending_reversals()[-1].stan)
            else:
                j.complete_offline(txn.id, approved=True, response_code="Y1", advice={39: "Y1"})
                approved = True
            if not approved:
                continue
            if txn_type is TxnType.SALE:
                debits += amount
                approved_sales.append((txn.id, amount))
            elif txn_type is TxnType.REFUND:
                credits += amount
            elif txn_type is TxnType.VOID:
                debits -= amount
                approved_sales.pop(0)
        total, per_scheme = j.batch_totals("TERM0001", "MERCHANT0000001")
        assert (total.debit_amount, total.credit_amount) == (debits, credits)
        assert sum(t.debit_amount for t in per_scheme.values()) == debits
        assert len(set(stans)) == len(stans)  # never reused (no wrap within a day)
        assert all(t.status is not Status.PENDING for t in j.transactions())
        assert {t.status.public for t in j.transactions()} <= {
            "approved",
            "declined",
            "reversed",
            "voided",
            "pending",
        }
