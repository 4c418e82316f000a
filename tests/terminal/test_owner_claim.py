"""Only the process that owns the terminal recovers: a second `pay`/`run`/`settle` never
turns a live process's armed reversal (its request in flight) into a reversal."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from terminal.app import open_terminal
from terminal.config import load_config
from terminal.journal import Journal, JournalBusy
from tests.terminal.flowrig import Rig, rig

ROOT = Path(__file__).resolve().parents[2]

# The live process: a request in flight (armed reversal), owner lock held until stdin ends.
LIVE = textwrap.dedent(
    """
    import sys
    from terminal.journal import Journal, NewTransaction, TxnType
    journal = Journal(sys.argv[1])
    journal.claim_owner()
    txn = journal.create_transaction(
        NewTransaction("Main", "TERM0001", "MERCHANT0000001", TxnType.SALE, 700, "826",
                       "1125093015"),
        mti="0200", request={3: "000000", 4: "000000000700"}, arm_reversal=True)
    print(txn.id, flush=True)
    sys.stdin.read()
    """
)


@pytest.fixture
def r(tmp_path: Path) -> Rig:
    with rig(tmp_path) as made:
        yield made


def armed(path: Path, txn_id: int) -> bool:
    with Journal(path) as journal:
        return journal.pending_reversals() == [] and journal.transaction(txn_id).status.value == (
            "pending"
        )


def test_second_process_does_not_recover_beside_a_live_one(r: Rig) -> None:
    config = load_config(r.config_path)
    path = config.journal.path
    live = subprocess.Popen(
        [sys.executable, "-c", LIVE, str(path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert live.stdout is not None
        txn_id = int(live.stdout.readline())
        second = open_terminal(config, pin="1234")
        try:
            with pytest.raises(JournalBusy):
                second.boot(sign_on=False, owner_timeout=0.2)
        finally:
            second.close()
        assert armed(path, txn_id), "the live process's request was reversed under it"
    finally:
        assert live.stdin is not None
        live.stdin.close()
        live.wait(timeout=10)
    # The live process died without recording an outcome: now the next boot owns the
    # journal and reverses it (host-spec rule 1).
    assert armed(path, txn_id)
    terminal = open_terminal(config, pin="1234")
    try:
        report = terminal.boot(sign_on=False, owner_timeout=1.0)
    finally:
        terminal.close()
    assert report.reversals_queued == 1
    with Journal(path) as journal:
        assert journal.transaction(txn_id).status.value == "reversed"
