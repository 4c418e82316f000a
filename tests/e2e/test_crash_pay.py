"""host-spec rule 4 across real processes: `posterm pay` / `posterm settle` SIGKILLed
at every journal write (before and after its commit; terminal/journal/crash.py hook)
of a sale, refund, void, completion and settlement; the next command recovers (after a
settlement: an ordinary sale that must be approved in a batch the host has not
closed); then the terminal's journal and the host's ledger must agree: no approved
transaction lost, nobody charged twice, every unanswered request reversed."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.host import Ledger
from terminal.journal import CREDIT_TYPES, DEBIT_TYPES, Journal, Status
from tests.e2e.rigproc import Terminal, demo_rules, host_process, posterm, provision

PAN = "4761739001010044"
CRASH = "POSTERM_JOURNAL_CRASH"


def terminal_net(terminal: Terminal) -> int:
    with Journal(terminal.config.parent / "journal.db") as journal:
        assert journal.integrity_ok()
        assert not journal.pending_reversals() and not journal.pending_advices()
        net = 0
        for txn in journal.transactions():
            assert txn.status is not Status.PENDING, txn.masked()
            if txn.status is Status.APPROVED and txn.type in DEBIT_TYPES:
                net += txn.amount
            elif txn.status is Status.APPROVED and txn.type in CREDIT_TYPES:
                net -= txn.amount
        return net


def recover(terminal: Terminal) -> None:
    """The next command: its recovery sends what the journal owes (a balance inquiry
    moves no money)."""
    code, result, err = terminal.pay("--type", "balance", "--pin", "1234")
    assert code == 0, (err, result)
    assert result is not None and result["reversal_pending"] is False


def crash_all(
    terminal: Terminal, ledger: Path, prepare: Callable[[], list[str]], command: str
) -> int:
    """Run ``command`` (prepared args) killed at write 1, 2, ... until it completes."""
    kills = 0
    for when in ("", ":after"):
        for number in range(1, 40):
            args = prepare()
            done = posterm(*args, extra_env={CRASH: f"{number}{when}"})
            if done.returncode != -signal.SIGKILL:
                assert done.returncode in (0, 1), done.stderr
                break
            kills += 1
            if command == "settlement":
                sale_after_settlement_kill(terminal, ledger)
            else:
                recover(terminal)
            assert Ledger(ledger).net_amount(pan=PAN) == terminal_net(terminal), (
                command,
                number,
                when,
            )
    return kills


def sale_after_settlement_kill(terminal: Terminal, ledger: Path) -> None:
    """After a settlement killed mid-way the next command is an ordinary sale: its boot
    recovery finishes the interrupted settlement first, so the sale is approved in a
    batch the host has not closed (a real acquirer answers 12 to business in a closed
    batch; the sim host would take it into the closed batch and hide the gap)."""
    code, result, err = terminal.pay("--type", "sale", "--amount", "25", "--pin", "1234")
    assert code == 0 and result is not None, (err, result)
    assert result["decision"] == "approved" and result["response_code"] == "00", result
    with Journal(terminal.config.parent / "journal.db") as journal:
        assert journal.open_settlements() == []
        sale = journal.search(stan=result["stan"], limit=1)[0]
    assert Ledger(ledger).batch_state(sale.tid, f"{sale.batch:06d}") == "open", sale.batch


def pay_args(terminal: Terminal, *args: str) -> list[str]:
    return ["pay", "--config", str(terminal.config), "--operator", "admin", *args]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_at_every_journal_write(tmp_path: Path) -> None:
    with host_process(tmp_path, demo_rules()) as (port, ledger):
        terminal = provision(tmp_path / "t", port)

        def approved(*args: str) -> dict:
            code, result, err = terminal.pay(*args)
            assert code == 0, err
            assert result is not None
            return result

        kills = {}
        kills["sale"] = crash_all(
            terminal, ledger, lambda: pay_args(terminal, "--type", "sale", "--amount", "1000",
                                               "--pin", "1234"), "sale")  # fmt: skip
        kills["refund"] = crash_all(
            terminal, ledger, lambda: pay_args(terminal, "--type", "refund", "--amount", "100",
                                               "--pin", "1234"), "refund")  # fmt: skip

        def void_args() -> list[str]:
            sale = approved("--type", "sale", "--amount", "700", "--pin", "1234")
            return pay_args(terminal, "--type", "void", "--rrn", sale["rrn"])

        kills["void"] = crash_all(terminal, ledger, void_args, "void")

        def completion_args() -> list[str]:
            pre = approved("--type", "preauth", "--amount", "3000", "--pin", "1234")
            return pay_args(terminal, "--type", "completion", "--amount", "2500",
                            "--rrn", pre["rrn"], "--auth-code", pre["auth_code"])  # fmt: skip

        kills["completion"] = crash_all(terminal, ledger, completion_args, "completion")

        def settle_args() -> list[str]:
            approved("--type", "sale", "--amount", "50", "--pin", "1234")
            return ["settle", "--config", str(terminal.config), "--operator", "admin"]

        kills["settlement"] = crash_all(terminal, ledger, settle_args, "settlement")
        done = posterm("settle", "--config", str(terminal.config), "--operator", "admin")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["result"] == "closed"
        assert Ledger(ledger).net_amount(pan=PAN) == terminal_net(terminal)
        assert all(count >= 2 for count in kills.values()), kills
