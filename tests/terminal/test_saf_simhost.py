"""The terminal core against H4's acquirer simulator (sim.host) over real TCP: an
independent implementation of host-spec, so these show byte-level agreement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.host import HostSimulator, rules_from_dict
from terminal.config import Merchant
from terminal.hostmsg import (
    Acceptor,
    HostClient,
    HostClientSettings,
    MemoryKeySource,
    NoValidResponse,
    datetime10,
    financial_request,
    network_management,
)
from terminal.journal import Journal, NewTransaction, Status, TxnType
from terminal.saf import Backoff, Saf
from terminal.settlement import Settlement
from tests.terminal.hostpeer import BDK, IPEK, KSN

WHEN = dt.datetime.now().replace(microsecond=0)
MERCHANT = Merchant("Main", "TERM0001", "MERCHANT0000001", "0826", ("Main",))
ACCEPTOR = Acceptor(MERCHANT.tid, MERCHANT.mid)
PAN = "4761739001010010"


class Terminal:
    def __init__(self, tmp_path: Path, host: HostSimulator) -> None:
        self.host = host
        self.journal = Journal(tmp_path / "journal.db", data_key=bytes(32))
        self.client = HostClient(HostClientSettings("127.0.0.1", host.port, response_timeout=0.5))
        self.keys = MemoryKeySource(IPEK, KSN)
        self.saf = Saf(
            self.journal, self.client, self.keys, now=lambda: WHEN, backoff=Backoff(0.0, 0.0)
        )

    def online(self, txn_type: TxnType, amount: int, **kw: object):  # type: ignore[no-untyped-def]
        original = self.journal.transaction(kw["original_id"]) if "original_id" in kw else None  # type: ignore[arg-type]
        request = financial_request(
            txn_type.value,
            stan="0",
            amount=amount,
            currency="826",
            acceptor=ACCEPTOR,
            when=WHEN,
            entry_mode="051",
            pan=PAN,
            expiry="3012",
            batch=self.journal.current_batch(MERCHANT.tid, MERCHANT.mid),
            voids="sale" if txn_type is TxnType.VOID else None,
            rrn=original.rrn if original else None,
            auth_code=original.auth_code if original else None,
        )
        txn = self.journal.create_transaction(
            NewTransaction(
                MERCHANT.name,
                MERCHANT.tid,
                MERCHANT.mid,
                txn_type,
                amount,
                "826",
                datetime10(WHEN),
                pan=PAN,
                scheme="visa",
                **kw,
            ),  # type: ignore[arg-type]
            mti=request.mti,
            request=request.fields,
            arm_reversal=True,
        )
        outcome = self.saf.exchange(request.with_fields(de11=txn.stan))
        if isinstance(outcome, NoValidResponse):
            return self.journal.no_valid_response(txn.id, outcome.reason)
        return self.journal.record_response(
            txn.id, approved=outcome.approved, fields=outcome.message.fields
        )


@pytest.fixture
def host(tmp_path: Path) -> Iterator[HostSimulator]:
    rules = rules_from_dict({"cards": [{"prefix": "4"}]})
    with HostSimulator(rules, tmp_path / "ledger.db", BDK) as sim:
        yield sim


@pytest.fixture
def term(tmp_path: Path, host: HostSimulator) -> Iterator[Terminal]:
    t = Terminal(tmp_path, host)
    yield t
    t.journal.close()


def test_sign_on_and_sale(term: Terminal) -> None:
    sign_on = network_management(
        "sign_on", stan=term.journal.next_stan(), acceptor=ACCEPTOR, when=WHEN
    )
    outcome = term.client.exchange(sign_on, None)
    assert not isinstance(outcome, NoValidResponse) and outcome.code == "00"
    sale = term.online(TxnType.SALE, 1500)
    assert sale.status is Status.APPROVED and sale.rrn and sale.auth_code
    assert term.host.ledger.net_amount(pan=PAN) == 1500


@pytest.mark.parametrize("fault", ["never", "drop", "garble", "bad_mac"])
def test_unanswered_sale_is_reversed_on_the_host(term: Terminal, fault: str) -> None:
    term.host.faults.next(fault, mti="0200")
    sale = term.online(TxnType.SALE, 2500)
    assert sale.status is Status.REVERSAL_PENDING
    assert term.host.ledger.net_amount(pan=PAN) == 2500  # the host did approve it
    assert term.saf.drain(force=True).empty
    assert term.journal.transaction(sale.id).status is Status.REVERSED
    assert term.host.ledger.net_amount(pan=PAN) == 0  # nobody charged


def test_lost_0410_repeat_gets_94_and_counts_as_acknowledged(term: Terminal) -> None:
    term.host.faults.next("never", mti="0200")
    term.host.faults.next("never", mti="0400")  # processed, answer lost
    sale = term.online(TxnType.SALE, 700)
    first = term.saf.drain(force=True)
    assert first.reversals_left == 1
    assert term.saf.drain(force=True).empty  # 0401 -> 94 = already has it
    assert term.journal.transaction(sale.id).status is Status.REVERSED
    assert term.host.ledger.net_amount(pan=PAN) == 0


def test_void_and_settlement_close(term: Terminal) -> None:
    sale = term.online(TxnType.SALE, 1000)
    other = term.online(TxnType.SALE, 400)
    term.online(TxnType.REFUND, 100)
    void = term.online(TxnType.VOID, 400, original_id=other.id)
    assert void.status is Status.APPROVED
    assert term.journal.transaction(other.id).status is Status.VOIDED
    result = Settlement(term.journal, term.client, term.keys, term.saf, now=lambda: WHEN).close(
        MERCHANT
    )
    assert result.closed and result.uploaded == 0, result
    assert (result.debit_count, result.debit_amount) == (1, 1000)
    assert (result.credit_count, result.credit_amount) == (1, 100)
    assert term.journal.current_batch(MERCHANT.tid, MERCHANT.mid) == 2
    assert sale.rrn


def test_settlement_mismatch_95_uploads_and_closes(term: Terminal) -> None:
    term.online(TxnType.SALE, 1000)
    # An approval the host never heard of (journaled offline without an advice):
    # the totals differ, so the host answers 95.
    local = term.journal.create_transaction(
        NewTransaction(
            MERCHANT.name,
            MERCHANT.tid,
            MERCHANT.mid,
            TxnType.SALE,
            50,
            "826",
            datetime10(WHEN),
            pan=PAN,
            offline=True,
        )
    )
    term.journal.complete_offline(local.id, approved=True, response_code="Y1")
    result = Settlement(term.journal, term.client, term.keys, term.saf, now=lambda: WHEN).close(
        MERCHANT
    )
    assert result.closed and result.uploaded == 2, result
    uploads = term.host.ledger.uploads(MERCHANT.tid, "000001")
    assert len(uploads) == 2


def test_offline_advices_reach_the_host_in_order(term: Terminal) -> None:
    term.host.faults.next("never", mti="0220")
    for amount in (11, 22):
        txn = term.journal.create_transaction(
            NewTransaction(
                MERCHANT.name,
                MERCHANT.tid,
                MERCHANT.mid,
                TxnType.SALE,
                amount,
                "826",
                datetime10(WHEN),
                pan=PAN,
                offline=True,
            )
        )
        term.journal.complete_offline(
            txn.id,
            approved=True,
            response_code="Y3",
            advice={
                3: "000000",
                4: f"{amount:012d}",
                12: WHEN.strftime("%H%M%S"),
                13: WHEN.strftime("%m%d"),
                14: "3012",
                22: "051",
                24: "001",
                25: "00",
                39: "Y3",
                41: MERCHANT.tid,
                42: MERCHANT.mid,
                49: "826",
            },
        )
    assert term.saf.drain(force=True).advices_left == 2
    assert term.saf.drain(force=True).empty
    assert term.host.ledger.net_amount(pan=PAN) == 33
