"""Subprocess for the journal crash tests: boot recovery + drain, then a scripted day
(sale, unanswered sale, offline sale + advice, refund, void, settlement). Run with
POSTERM_JOURNAL_CRASH=N[:after] to be SIGKILLed at the Nth journal write.

Usage: python -m tests.terminal.crash_worker DIR PORT [recover-only | recover-sale]
``recover-sale``: recovery (including an interrupted settlement), then one ordinary online
sale of 5555 whose status is printed as ``sale=<status>``. Prints the number of journal
writes it made last (when it was not killed).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from terminal.config import Merchant
from terminal.hostmsg import (
    Acceptor,
    HostClient,
    HostClientSettings,
    NoValidResponse,
    datetime10,
    financial_request,
)
from terminal.hostmsg.keysource import MemoryKeySource
from terminal.journal import Journal, NewTransaction, TxnType
from terminal.saf import Saf
from terminal.settlement import Settlement, resume_open
from tests.terminal.hostpeer import IPEK

MERCHANT = Merchant("Main", "TERM0001", "MERCHANT0000001", "0826", ("Main",))
ACCEPTOR = Acceptor(MERCHANT.tid, MERCHANT.mid)
WHEN = dt.datetime(2026, 11, 25, 9, 30, 15)
PAN = "4761739001010010"
KEY = bytes(range(32))


def online(journal: Journal, saf: Saf, txn_type: TxnType, amount: int, **kw: object) -> int:
    request = financial_request(
        txn_type.value,
        stan="0",
        amount=amount,
        currency="826",
        acceptor=ACCEPTOR,
        when=WHEN,
        entry_mode="051",
        batch=journal.current_batch(MERCHANT.tid, MERCHANT.mid),
        pan=PAN,
        voids="sale" if txn_type is TxnType.VOID else None,
    )
    new = NewTransaction(
        MERCHANT.name,
        MERCHANT.tid,
        MERCHANT.mid,
        txn_type,
        amount,
        "826",
        datetime10(WHEN),
        pan=PAN,
        **kw,
    )  # type: ignore[arg-type]
    txn = journal.create_transaction(
        new, mti=request.mti, request=request.fields, arm_reversal=True
    )
    outcome = saf.exchange(request.with_fields(de11=txn.stan))
    if isinstance(outcome, NoValidResponse):
        if outcome.sent:
            journal.no_valid_response(txn.id, outcome.reason)
        else:
            journal.not_sent(txn.id)
            journal.terminate(txn.id, outcome.reason)
    else:
        journal.record_response(txn.id, approved=outcome.approved, fields=outcome.message.fields)
    return txn.id


def main() -> int:
    directory, port = Path(sys.argv[1]), int(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else ""
    journal = Journal(directory / "journal.db", data_key=KEY)
    client = HostClient(HostClientSettings("127.0.0.1", port, response_timeout=0.25))
    # A fresh KSN block per run (the key store would persist the counter).
    run = len(list(directory.glob("run-*")))
    (directory / f"run-{run}").touch()
    keys = MemoryKeySource(IPEK, bytes.fromhex(f"FFFF98765432{run:02X}E00000"))
    saf = Saf(journal, client, keys, now=lambda: WHEN)
    journal.recover()
    if saf.drain(force=True).empty:
        resume_open(journal, client, keys, saf, [MERCHANT], now=lambda: WHEN)
    if mode == "recover-sale":
        sale = online(journal, saf, TxnType.SALE, 5555)
        print(f"sale={journal.transaction(sale).status.value}")
    if not mode:
        sale = online(journal, saf, TxnType.SALE, 1111)
        online(journal, saf, TxnType.SALE, 2222)  # the host never answers this one
        offline = journal.create_transaction(
            NewTransaction(
                MERCHANT.name,
                MERCHANT.tid,
                MERCHANT.mid,
                TxnType.SALE,
                3333,
                "826",
                datetime10(WHEN),
                pan=PAN,
                offline=True,
            )
        )
        journal.complete_offline(
            offline.id,
            approved=True,
            response_code="Y1",
            advice={
                3: "000000",
                4: "000000003333",
                39: "Y1",
                41: MERCHANT.tid,
                42: MERCHANT.mid,
                49: "826",
            },
        )
        online(journal, saf, TxnType.REFUND, 444)
        online(journal, saf, TxnType.VOID, 1111, original_id=sale)
        saf.drain(force=True)
        Settlement(journal, client, keys, saf, now=lambda: WHEN).close(MERCHANT)
    print(journal._crash.count)
    journal.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
