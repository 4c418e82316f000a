"""Journal retention ([journal] retention_days): settled batches older than the policy
are purged after a successful settlement and at boot; nothing open or owed is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from terminal.flows import TxnRequest, run_flow
from terminal.journal import Journal
from terminal.settlement import Settlement
from tests.terminal.flowrig import Rig, rig

DAY = 86400.0


@pytest.fixture
def r(tmp_path: Path) -> Rig:
    with rig(tmp_path) as made:
        yield made


def journal_path(r: Rig) -> Path:
    return r.directory / "terminal" / "journal.db"


def age_closed_batches(r: Rig, days: float) -> None:
    """As if every batch closed so far had closed ``days`` ago."""
    with sqlite3.connect(journal_path(r)) as db:
        db.execute("UPDATE batches SET closed_at = closed_at - ?", (days * DAY,))
        db.execute("UPDATE settlements SET updated_at = updated_at - ?", (days * DAY,))


def amounts(r: Rig) -> list[int]:
    with Journal(journal_path(r)) as journal:
        return [t.amount for t in journal.transactions()]


def sale_and_settle(r: Rig, terminal, amount: int) -> None:  # type: ignore[no-untyped-def]
    ports = terminal.ports
    ctx = run_flow(TxnRequest(operator="admin", type="sale", amount=amount), ports)
    assert ctx.outcome is not None and ctx.outcome.decision == "approved"
    settlement = Settlement(ports.journal, ports.client, ports.keys, ports.saf)
    assert settlement.close(terminal.config.merchant()).closed


def test_successful_settlement_purges_batches_past_retention(r: Rig) -> None:
    terminal = r.terminal()
    try:
        assert terminal.ports.journal.retention_days == 90  # the default policy
        sale_and_settle(r, terminal, 1111)
        assert amounts(r) == [1111]  # closed today: kept
        age_closed_batches(r, 89)
        sale_and_settle(r, terminal, 2222)
        assert amounts(r) == [1111, 2222]  # 89 days < 90: kept
        age_closed_batches(r, 2)
        sale_and_settle(r, terminal, 3333)
        # The first batch is 91 days old now, the second 2: only the first goes.
        assert amounts(r) == [2222, 3333]
    finally:
        terminal.close()


def test_boot_purges_and_keeps_the_open_batch(r: Rig) -> None:
    terminal = r.terminal()
    try:
        sale_and_settle(r, terminal, 1111)
        ctx = run_flow(TxnRequest(operator="admin", type="sale", amount=500), terminal.ports)
        assert ctx.outcome is not None and ctx.outcome.decision == "approved"
    finally:
        terminal.close()
    age_closed_batches(r, 365)
    again = r.terminal()  # boot
    try:
        assert again.report.purged == 1
    finally:
        again.close()
    assert amounts(r) == [500]  # the open batch's sale stays, however old
