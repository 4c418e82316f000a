"""X report, history search and reprint: `posterm report|history|reprint` as real
processes and the ECR requests `x_report`, `history`, `reprint` through the running
terminal's request handler, after real transactions against the sim host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.demo import DEMO_PASSWORD
from terminal.commands.operator import open_operators
from terminal.commands.run import Runner
from terminal.errors import UsageError
from terminal.journal import Journal
from terminal.reports import DUPLICATE, parse_since
from tests.terminal.flowrig import Rig, rig

ROOT = Path(__file__).resolve().parents[2]
PAN = "4761739001010044"  # visa-online-pin TEST card
CASHIER = "cashier1"


@pytest.fixture
def r(tmp_path: Path) -> Rig:
    with rig(tmp_path) as made:
        operators = open_operators(str(made.config_path))
        try:
            admin = operators.login("admin", DEMO_PASSWORD)
            operators.add(CASHIER, "cashier", DEMO_PASSWORD, by=admin)  # type: ignore[arg-type]
        finally:
            operators.journal.close()
        yield made


def posterm(r: Rig, *args: str, operator: str = "admin") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "terminal", args[0], "--config", str(r.config_path),
         "--operator", operator, *args[1:]],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "POSTERM_PASSWORD": DEMO_PASSWORD},
    )  # fmt: skip


def test_report_history_reprint_commands(r: Rig) -> None:
    sale = r.pay(type="sale", amount=1250, entry="chip")
    refund = r.pay(type="refund", amount=200, entry="chip")
    assert sale["decision"] == refund["decision"] == "approved"

    done = posterm(r, "report", "--json")
    assert done.returncode == 0, done.stderr
    (merchant,) = json.loads(done.stdout)["merchants"]
    assert merchant["totals"] == {"debit_count": 1, "debit_amount": 1250,
                                  "credit_count": 1, "credit_amount": 200}  # fmt: skip
    assert sum(s["debit_amount"] for s in merchant["per_scheme"].values()) == 1250
    text = posterm(r, "report")
    assert text.returncode == 0 and "DEBITS" in text.stdout and "1250" in text.stdout
    assert posterm(r, "report", "--merchant", "nobody").returncode == 2
    # A cashier may neither see the till's totals nor other people's transactions.
    denied = posterm(r, "report", operator=CASHIER)
    assert denied.returncode == 2 and "supervisor" in denied.stderr
    assert posterm(r, "history", operator=CASHIER).returncode == 2

    rows = [json.loads(line) for line in posterm(r, "history", "--json").stdout.splitlines()]
    assert [row["type"] for row in rows] == ["refund", "sale"]  # newest first
    assert all(row["pan"] == "476173******0044" for row in rows)
    one = posterm(r, "history", "--json", "--stan", str(int(sale["stan"])))
    assert [json.loads(x)["stan"] for x in one.stdout.splitlines()] == [sale["stan"]]
    assert posterm(r, "history", "--json", "--pan-last4", "9999").stdout == ""
    assert len(posterm(r, "history", "--json", "--pan-last4", "0044").stdout.splitlines()) == 2
    assert posterm(r, "history", "--json", "--since", "2999-01-01").stdout == ""
    assert posterm(r, "history", "--since", "yesterday-ish").returncode == 2

    # Reprint: the last receipt (the refund's), marked duplicate; any operator may.
    last = posterm(r, "reprint", operator=CASHIER)
    assert last.returncode == 0, last.stderr
    assert last.stdout.startswith(DUPLICATE) and refund["receipt"] in last.stdout
    older = json.loads(posterm(r, "reprint", "--stan", sale["stan"], "--json").stdout)
    assert older["receipt"] == f"{DUPLICATE}\n{sale['receipt']}"
    assert older["merchant_receipt"].startswith(DUPLICATE)
    assert older["merchant_receipt"] != older["receipt"]
    assert posterm(r, "reprint", "--stan", "999999").returncode == 2
    for done in (last, text):
        assert PAN not in done.stdout


def test_receipts_are_kept_masked_in_the_journal(r: Rig) -> None:
    sale = r.pay(type="sale", amount=990, entry="chip")
    with Journal(r.directory / "terminal" / "journal.db") as journal:
        txn = journal.last_transaction()
        assert txn is not None and txn.stan == sale["stan"]
        assert txn.extra["receipt_customer"] == sale["receipt"]
        assert PAN not in txn.extra["receipt_merchant"]
        assert "476173******0044" in txn.extra["receipt_merchant"]


def test_ecr_queries(r: Rig) -> None:
    sale = r.pay(type="sale", amount=1250, entry="chip")
    terminal = r.terminal()
    try:
        runner = Runner(terminal)
        login = {"operator": "admin", "password": DEMO_PASSWORD, "id": 3}
        report = runner.handle({"command": "x_report", **login})
        assert report["id"] == 3
        assert report["merchants"][0]["totals"]["debit_amount"] == 1250
        found = runner.handle({"command": "history", "pan_last4": "0044", **login})
        assert [t["stan"] for t in found["transactions"]] == [sale["stan"]]
        again = runner.handle({"command": "reprint", **login})
        assert again["receipt"] == f"{DUPLICATE}\n{sale['receipt']}"
        cashier = {"operator": CASHIER, "password": DEMO_PASSWORD}
        assert "error" in runner.handle({"command": "x_report", **cashier})
        assert "error" in runner.handle({"command": "history", **cashier})
        assert "receipt" in runner.handle({"command": "reprint", **cashier})
        bad = runner.handle({"command": "history", "stan": 12, **login})
        assert "stan must be a string" in bad["error"]
    finally:
        terminal.close()


def test_parse_since() -> None:
    assert parse_since(None) is None
    assert parse_since("1700000000") == 1_700_000_000.0
    assert parse_since(5) == 5.0
    assert parse_since("2026-11-25") == parse_since("2026-11-25T00:00:00")
    with pytest.raises(UsageError):
        parse_since("last tuesday")
