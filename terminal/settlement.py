"""Settlement: X report (running totals) and batch close by host-spec rule 3.

Close: drain every reversal and advice first; send 0500 (DE 3 920000) with the journal's
totals; on 0510 ``00`` the batch closes and its number increments; on ``95`` each
transaction of the batch goes up as a 0320, then 0500 with DE 3 960000 — ``00`` closes.
Before the 0500 leaves, a write-ahead record of the attempt (batch, totals, state
``requested`` → ``uploading`` on 95) is committed; the host's ``00`` and the local close
are one commit (state ``closed``). A crash or a lost answer in between leaves the record
open, and boot recovery (:func:`resume_open`) sends the 0500 again for the same batch
before any new business — the host answers a repeated 0500 for a batch it already closed
as it did the first time, so repeating is safe, and the terminal never keeps open a batch
the host closed (where new business would be refused with ``12``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from terminal.config import Config, Merchant
from terminal.hostmsg import builders
from terminal.hostmsg.builders import Acceptor
from terminal.hostmsg.client import HostClient, NoValidResponse
from terminal.hostmsg.keysource import KeySource
from terminal.hostmsg.spec import PROCESSING_CODES, response_text
from terminal.journal import CREDIT_TYPES, DEBIT_TYPES, Journal, Status, Totals, Transaction
from terminal.saf import Saf


@dataclass(frozen=True, slots=True)
class MerchantReport:
    merchant: str
    tid: str
    mid: str
    batch: int
    totals: Totals
    per_scheme: dict[str, Totals]
    pending: int  # rows whose outcome is not final (pending / reversal pending)
    reversals_queued: int
    advices_queued: int

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["totals"] = asdict(self.totals)
        data["per_scheme"] = {k: asdict(v) for k, v in self.per_scheme.items()}
        return data


def x_report(config: Config, journal: Journal) -> list[MerchantReport]:
    """Running totals of every merchant's open batch, overall and per card scheme."""
    reversals = journal.pending_reversals()
    advices = journal.pending_advices()
    reports = []
    for merchant in config.merchants:
        totals, per_scheme = journal.batch_totals(merchant.tid, merchant.mid)
        rows = journal.batch_transactions(merchant.tid, merchant.mid)
        ids = {t.id for t in rows}
        reports.append(
            MerchantReport(
                merchant=merchant.name,
                tid=merchant.tid,
                mid=merchant.mid,
                batch=journal.current_batch(merchant.tid, merchant.mid),
                totals=totals,
                per_scheme=per_scheme,
                pending=sum(t.status in (Status.PENDING, Status.REVERSAL_PENDING) for t in rows),
                reversals_queued=sum(r.txn_id in ids for r in reversals),
                advices_queued=sum(a.txn_id in ids for a in advices),
            )
        )
    return reports


@dataclass(frozen=True, slots=True)
class SettlementResult:
    """The rig-contract `posterm settle` object (plus the reason when not closed)."""

    result: str  # "closed" or "failed"
    batch: int
    debit_count: int
    debit_amount: int
    credit_count: int
    credit_amount: int
    uploaded: int
    response_code: str | None = None
    reason: str | None = None
    merchant: str = ""
    per_scheme: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return self.result == "closed"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resume_open(
    journal: Journal,
    client: HostClient,
    keys: KeySource,
    saf: Saf,
    merchants: Sequence[Merchant],
    *,
    nii: str = "001",
    now: Callable[[], dt.datetime] = dt.datetime.now,
    exclude: Merchant | None = None,
) -> list[SettlementResult]:
    """Boot recovery of settlements interrupted between their write-ahead record and the
    local batch close (crash, no valid response): each is run again for the same batch
    before any new business, so the terminal never keeps a batch open that the host has
    closed. The host answers a repeated 0500 for a batch it already closed as it did the
    first time (docs/host-choices.md), so repeating is safe. ``exclude``: the profile
    the caller is about to settle anyway (``posterm settle``)."""
    results = []
    for attempt in journal.open_settlements():
        if exclude is not None and (attempt.tid, attempt.mid) == (exclude.tid, exclude.mid):
            continue
        if journal.current_batch(attempt.tid, attempt.mid) != attempt.batch:
            continue  # closed here already (close_batch marks it; defensive)
        merchant = next(
            (m for m in merchants if (m.tid, m.mid) == (attempt.tid, attempt.mid)), None
        )
        if merchant is None:  # the profile left the configuration: its batch still closes
            currency = merchants[0].currency_code if merchants else "0826"
            merchant = Merchant(attempt.merchant, attempt.tid, attempt.mid, currency, ())
        settlement = Settlement(journal, client, keys, saf, nii=nii, now=now)
        results.append(settlement.close(merchant, operator=None))
    return results


def uploadable(transactions: list[Transaction]) -> list[Transaction]:
    """The rows a 95 uploads: what the totals count (approved debits and credits)."""
    return [
        t
        for t in transactions
        if t.status is Status.APPROVED and (t.type in DEBIT_TYPES or t.type in CREDIT_TYPES)
    ]


class Settlement:
    """Closes one merchant profile's batch with the host."""

    def __init__(
        self,
        journal: Journal,
        client: HostClient,
        keys: KeySource,
        saf: Saf,
        *,
        nii: str = "001",
        now: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        self.journal = journal
        self.client = client
        self.keys = keys
        self.saf = saf
        self.nii = nii
        self._now = now

    def close(self, merchant: Merchant, *, operator: str | None = None) -> SettlementResult:
        tid, mid = merchant.tid, merchant.mid
        batch = self.journal.current_batch(tid, mid)
        totals, per_scheme = self.journal.batch_totals(tid, mid)

        def result(
            outcome: str, uploaded: int, code: str | None, reason: str | None
        ) -> SettlementResult:
            return SettlementResult(
                result=outcome,
                batch=batch,
                debit_count=totals.debit_count,
                debit_amount=totals.debit_amount,
                credit_count=totals.credit_count,
                credit_amount=totals.credit_amount,
                uploaded=uploaded,
                response_code=code,
                reason=reason,
                merchant=merchant.name,
                per_scheme={k: asdict(v) for k, v in per_scheme.items()},
            )

        drained = self.saf.drain(force=True)  # host-spec rule 3: drain before any 0500
        if not drained.empty:
            return result("failed", 0, None, f"store-and-forward not drained: {drained.error}")
        # Totals are read again: draining may have turned a pending row into reversed.
        totals, per_scheme = self.journal.batch_totals(tid, mid)
        record = {**asdict(totals), "per_scheme": {k: asdict(v) for k, v in per_scheme.items()}}
        acceptor = Acceptor(tid, mid, self.nii)
        self.journal.audit(operator, "settlement started", {"tid": tid, "batch": batch})
        # Write-ahead (host-spec rule 4): committed before the 0500 may leave, so a crash
        # from here until the local close is finished by boot recovery (resume_open).
        attempt = self.journal.begin_settlement(tid, mid, merchant.name, record, operator)
        code = self._reconcile(acceptor, merchant, batch, totals, False, operator)
        uploaded = 0
        if code == "95":
            self.journal.settlement_uploading(attempt, 0)
            for txn in uploadable(self.journal.batch_transactions(tid, mid)):
                error = self._upload(txn)
                if error:
                    # Left open: the next boot (or settle) sends the 0500 again.
                    return result("failed", uploaded, code, f"batch upload stopped: {error}")
                uploaded += 1
            code = self._reconcile(acceptor, merchant, batch, totals, True, operator)
        if code is None or code.startswith("no valid response"):
            # Left open: the host may have closed the batch; boot recovery asks again.
            return result("failed", uploaded, None, code or "no valid response")
        if code != "00":
            self.journal.settlement_failed(attempt, code)
            return result("failed", uploaded, code, response_text(code))
        self.journal.close_batch(tid, mid, merchant.name, record, uploaded, attempt)
        if self.journal.retention_days is not None:
            # Retention policy: settled batches older than retention_days go now.
            self.journal.purge(self.journal.retention_days)
        return result("closed", uploaded, code, None)

    def _reconcile(
        self,
        acceptor: Acceptor,
        merchant: Merchant,
        batch: int,
        totals: Totals,
        after_upload: bool,
        operator: str | None,
    ) -> str | None:
        message = builders.reconciliation(
            stan=self.journal.next_stan(),
            acceptor=acceptor,
            when=self._now(),
            batch=batch,
            currency=merchant.currency_code,
            debit_count=totals.debit_count,
            debit_amount=totals.debit_amount,
            credit_count=totals.credit_count,
            credit_amount=totals.credit_amount,
            after_upload=after_upload,
            operator=operator,
        )
        outcome = self.saf.exchange(message, self.keys.next_session())
        if isinstance(outcome, NoValidResponse):
            return f"no valid response: {outcome.reason}"
        return outcome.code

    def _upload(self, txn: Transaction) -> str | None:
        message = builders.batch_upload(
            original_mti=txn.mti or "0200",
            original_stan=txn.stan,
            original_datetime=txn.local_datetime,
            original_fields=txn.request,
            rrn=txn.rrn,
            auth_code=txn.auth_code,
            stan=self.journal.next_stan(),
            when=self._now(),
            pan=self.journal.pan(txn.id) if txn.has_pan else None,
        )
        if 3 not in message.fields or 4 not in message.fields:
            # An offline row journaled without request fields: rebuild the essentials.
            message = message.with_fields(
                de3=message.text(3) or PROCESSING_CODES.get(txn.type.value, "000000"),
                de4=builders.amount12(txn.amount),
                de41=message.text(41) or txn.tid,
                de42=message.text(42) or txn.mid,
                de49=message.text(49) or txn.currency,
            )
        outcome = self.saf.exchange(message, self.keys.next_session())
        if isinstance(outcome, NoValidResponse):
            return outcome.reason
        return None  # any 0330 counts as received; the final 0500 tells the verdict
