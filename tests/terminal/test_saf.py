"""terminal.saf + terminal.settlement against a TCP peer: every host-spec rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.config import Merchant
from terminal.hostmsg import (
    Acceptor,
    HostClient,
    HostClientSettings,
    MemoryKeySource,
    NoValidResponse,
    Response,
    datetime10,
    financial_request,
)
from terminal.journal import Journal, NewTransaction, Status, TxnType
from terminal.saf import Backoff, Saf
from terminal.settlement import Settlement, x_report
from tests.terminal.hostpeer import IPEK, KSN, Peer, Seen

WHEN = dt.datetime(2026, 11, 25, 9, 30, 15)
MERCHANT = Merchant("Main", "TERM0001", "MERCHANT0000001", "0826", ("Main",))
ACCEPTOR = Acceptor(MERCHANT.tid, MERCHANT.mid, "001")
PAN = "4761739001010010"


class Rig:
    def __init__(self, tmp_path: Path, script: object = None) -> None:
        self.peer = Peer(script)  # type: ignore[arg-type]
        self.journal = Journal(tmp_path / "j.db", data_key=bytes(32))
        self.client = HostClient(
            HostClientSettings("127.0.0.1", self.peer.port, response_timeout=0.3)
        )
        self.keys = MemoryKeySource(IPEK, KSN)
        self.mono = 0.0
        self.saf = Saf(
            self.journal,
            self.client,
            self.keys,
            now=lambda: WHEN,
            monotonic=lambda: self.mono,
            backoff=Backoff(1.0, 8.0, random=lambda: 0.5),
        )

    def online(self, txn_type: TxnType = TxnType.SALE, amount: int = 1000, **kw: object):
        """What the flows do: journal (reversal armed), send, record."""
        new = NewTransaction(
            merchant=MERCHANT.name,
            tid=MERCHANT.tid,
            mid=MERCHANT.mid,
            type=txn_type,
            amount=amount,
            currency="826",
            local_datetime=datetime10(WHEN),
            pan=PAN,
            entry_mode="051",
            scheme="visa",
            **kw,  # type: ignore[arg-type]
        )
        request = financial_request(
            txn_type.value,
            stan="000000",
            amount=amount,
            currency="826",
            acceptor=ACCEPTOR,
            when=WHEN,
            entry_mode="051",
            batch=self.journal.current_batch(MERCHANT.tid, MERCHANT.mid),
            pan=PAN,
            voids="sale" if txn_type is TxnType.VOID else None,
        )
        txn = self.journal.create_transaction(
            new, mti=request.mti, request=request.fields, arm_reversal=True
        )
        outcome = self.saf.exchange(request.with_fields(de11=txn.stan))
        if isinstance(outcome, NoValidResponse):
            if outcome.sent:
                return self.journal.no_valid_response(txn.id, outcome.reason), outcome
            return self.journal.not_sent(txn.id), outcome
        return (
            self.journal.record_response(
                txn.id, approved=outcome.approved, fields=outcome.message.fields
            ),
            outcome,
        )

    def close(self) -> None:
        self.peer.close()
        self.journal.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


def mtis(peer: Peer) -> list[str]:
    return [s.mti for s in peer.seen]


@pytest.mark.parametrize("fault", ["silence", "close", "garbage", "bad_mac", "oversize"])
def test_rule1_reversal_on_every_kind_of_no_valid_response(rig: Rig, fault: str) -> None:
    answers = iter([fault])
    rig.peer.script = lambda seen: next(answers, {})
    txn, outcome = rig.online()
    assert isinstance(outcome, NoValidResponse)
    assert txn.status is Status.REVERSAL_PENDING
    (rev,) = rig.journal.pending_reversals()
    assert rev.stan != txn.stan  # a reversal gets a new STAN
    result = rig.saf.drain(force=True)
    assert result.empty and result.reversals_sent == 1
    reversal = rig.peer.seen[-1]
    assert reversal.mti == "0400" and reversal.mac_ok
    assert reversal.fields["11"] == rev.stan
    assert reversal.fields["90"][:10] == "0200" + txn.stan  # DE 90 original data
    assert reversal.fields["90"][10:20] == datetime10(WHEN)
    assert reversal.fields["2"] == PAN and "128" in reversal.fields
    assert rig.journal.transaction(txn.id).status is Status.REVERSED


def test_rule1_reversal_repeats_as_0401_until_0410(rig: Rig) -> None:
    answers = iter(["silence", "silence", "close", {}])
    rig.peer.script = lambda seen: next(answers, {})
    txn, _ = rig.online()
    first = rig.saf.drain(force=True)
    assert first.reversals_left == 1 and rig.saf.backoff.failures == 1
    assert not rig.saf.due()  # backing off
    rig.mono += 100
    assert rig.saf.due()
    rig.saf.drain()
    rig.mono += 100
    rig.saf.drain()
    assert mtis(rig.peer) == ["0200", "0400", "0401", "0401"]
    assert len({s.fields["11"] for s in rig.peer.seen[1:]}) == 1  # a repeat keeps its STAN
    assert rig.journal.transaction(txn.id).status is Status.REVERSED


def test_rule1_reversal_goes_before_any_other_message(rig: Rig) -> None:
    answers = iter(["silence", "close"])
    rig.peer.script = lambda seen: next(answers, {})
    rig.online()
    second, outcome = rig.online()  # the reversal fails again: the sale must not leave
    assert isinstance(outcome, NoValidResponse) and not outcome.sent
    assert mtis(rig.peer) == ["0200", "0400"]
    rig.journal.terminate(second.id, "reversal pending")
    _third, outcome = rig.online()
    assert isinstance(outcome, Response)
    assert mtis(rig.peer) == ["0200", "0400", "0401", "0200"]


def test_rule2_94_acknowledges_reversal_and_advice(rig: Rig) -> None:
    answers = iter(["silence", {"39": "94"}])
    rig.peer.script = lambda seen: next(answers, {"39": "94"})
    txn, _ = rig.online()
    assert rig.saf.drain(force=True).empty
    assert rig.journal.transaction(txn.id).status is Status.REVERSED
    offline = rig.journal.create_transaction(
        NewTransaction(
            merchant="Main",
            tid=MERCHANT.tid,
            mid=MERCHANT.mid,
            type=TxnType.SALE,
            amount=5,
            currency="826",
            local_datetime="1125093015",
            offline=True,
        )
    )
    rig.journal.complete_offline(
        offline.id,
        approved=True,
        response_code="Y1",
        advice={3: "000000", 4: "000000000005", 39: "Y1", 41: MERCHANT.tid, 42: MERCHANT.mid},
    )
    assert rig.saf.drain(force=True).empty


def test_rule2_advices_in_order_and_repeated_until_0230(rig: Rig) -> None:
    fails = iter([{}, "close"])  # first advice ok, second: link breaks once
    rig.peer.script = lambda seen: next(fails, {})
    ids = []
    for amount in (11, 22, 33):
        txn = rig.journal.create_transaction(
            NewTransaction(
                merchant="Main",
                tid=MERCHANT.tid,
                mid=MERCHANT.mid,
                type=TxnType.SALE,
                amount=amount,
                currency="826",
                local_datetime="1125093015",
                pan=PAN,
                offline=True,
            )
        )
        rig.journal.complete_offline(
            txn.id,
            approved=True,
            response_code="Y3",
            advice={3: "000000", 4: f"{amount:012d}", 39: "Y3", 41: MERCHANT.tid, 42: MERCHANT.mid},
        )
        ids.append(txn.id)
    first = rig.saf.drain(force=True)
    assert first.advices_sent == 1 and first.advices_left == 2
    rig.saf.drain(force=True)
    amounts = [int(s.fields["4"]) for s in rig.peer.seen]
    assert amounts == [11, 22, 22, 33]  # in order; the failed one repeated before the next
    assert all(s.mti == "0220" and s.mac_ok and s.fields["2"] == PAN for s in rig.peer.seen)


def test_host_declines_and_approves_record_outcome(rig: Rig) -> None:
    rig.peer.script = lambda seen: {"39": "51"}
    txn, _ = rig.online()
    assert txn.status is Status.DECLINED and txn.response_code == "51"
    assert rig.journal.pending_reversals() == []


def test_boot_recovery_reverses_request_with_unrecorded_outcome(rig: Rig, tmp_path: Path) -> None:
    new = NewTransaction(
        merchant="Main",
        tid=MERCHANT.tid,
        mid=MERCHANT.mid,
        type=TxnType.SALE,
        amount=700,
        currency="826",
        local_datetime="1125093015",
        pan=PAN,
    )
    txn = rig.journal.create_transaction(
        new,
        mti="0200",
        request={3: "000000", 4: "000000000700", 41: MERCHANT.tid, 42: MERCHANT.mid},
        arm_reversal=True,
    )
    # ... the process dies here; at boot:
    assert rig.journal.recover() == 1
    assert rig.saf.drain(force=True).empty
    assert mtis(rig.peer) == ["0400"]
    assert rig.journal.transaction(txn.id).status is Status.REVERSED


def test_rule3_settlement_closes_on_00(rig: Rig) -> None:
    rig.online(amount=1000)
    rig.online(TxnType.REFUND, 300)
    result = Settlement(rig.journal, rig.client, rig.keys, rig.saf, now=lambda: WHEN).close(
        MERCHANT
    )
    assert result.closed and result.batch == 1 and result.uploaded == 0
    assert (result.debit_count, result.debit_amount) == (1, 1000)
    assert (result.credit_count, result.credit_amount) == (1, 300)
    recon = rig.peer.seen[-1]
    assert recon.mti == "0500" and recon.fields["3"] == "920000" and recon.mac_ok
    assert recon.fields["76"] == "0000000001" and recon.fields["88"] == "0000000000001000"
    assert rig.journal.current_batch(MERCHANT.tid, MERCHANT.mid) == 2


def test_rule3_95_uploads_each_then_960000(rig: Rig) -> None:
    def script(seen: Seen) -> object:
        if seen.mti == "0500" and seen.fields["3"] == "920000":
            return {"39": "95"}
        return {"39": "00", "37": "000000000042"} if seen.mti == "0200" else {}

    rig.peer.script = script
    sale, _ = rig.online(amount=1000)
    rig.online(TxnType.SALE, 2000)
    rig.online(TxnType.VOID, 2000, original_id=sale.id + 1)
    rig.online(TxnType.REFUND, 300)
    result = Settlement(rig.journal, rig.client, rig.keys, rig.saf, now=lambda: WHEN).close(
        MERCHANT
    )
    assert result.closed and result.uploaded == 2  # the voided sale and the void: neither
    assert mtis(rig.peer)[-4:] == ["0500", "0320", "0320", "0500"]
    uploads = [s for s in rig.peer.seen if s.mti == "0320"]
    assert [u.fields["4"] for u in uploads] == ["000000001000", "000000000300"]
    assert all(u.mac_ok and u.fields["37"] == "000000000042" for u in uploads)
    assert rig.peer.seen[-1].fields["3"] == "960000"
    assert (result.debit_count, result.credit_count) == (1, 1)


def test_rule3_drains_first_and_fails_when_it_cannot(rig: Rig) -> None:
    answers = iter(["silence", "close"])
    rig.peer.script = lambda seen: next(answers, {})
    rig.online()
    result = Settlement(rig.journal, rig.client, rig.keys, rig.saf, now=lambda: WHEN).close(
        MERCHANT
    )
    assert result.result == "failed" and "not drained" in (result.reason or "")
    assert "0500" not in mtis(rig.peer)
    result = Settlement(rig.journal, rig.client, rig.keys, rig.saf, now=lambda: WHEN).close(
        MERCHANT
    )
    assert result.closed and mtis(rig.peer)[-2:] == ["0401", "0500"]
    assert result.debit_count == 0  # the reversed sale counts nowhere


def test_x_report_per_scheme(rig: Rig, tmp_path: Path) -> None:
    from terminal.config import parse_config

    rig.online(amount=1000)
    config = parse_config(
        {
            "terminal": {"data_dir": str(tmp_path)},
            "host": {"url": "tcp://127.0.0.1:1"},
            "merchants": [{"name": "Main", "tid": MERCHANT.tid, "mid": MERCHANT.mid}],
        }
    )
    (report,) = x_report(config, rig.journal)
    assert report.totals.debit_amount == 1000 and report.per_scheme["visa"].debit_count == 1


def test_backoff_is_exponential_with_jitter() -> None:
    values = iter([0.0, 1.0, 0.5, 0.5, 0.5])
    backoff = Backoff(1.0, 8.0, random=lambda: next(values))
    assert [backoff.failed() for _ in range(5)] == [0.5, 2.0, 3.0, 6.0, 6.0]
    backoff.succeeded()
    assert backoff.delay() == 0.0
