"""`posterm settle --config FILE --operator ID [--merchant NAME]` (rig contract).

A supervisor (or admin) closes a merchant profile's batch: boot recovery, drain of every
reversal and advice, then host-spec rule 3. Prints one JSON object — result, batch,
debit_count, debit_amount, credit_count, credit_amount, uploaded (plus response_code,
reason, merchant, per_scheme) — and exits 0 when the batch closed, 1 when it did not.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from terminal.commands.operator import login
from terminal.config import load_config
from terminal.hostmsg.client import HostClient
from terminal.hostmsg.keysource import open_key_source
from terminal.journal import Journal
from terminal.journal.datakey import data_key_source
from terminal.merchants import choose
from terminal.operators import Operators
from terminal.saf import Backoff, Saf
from terminal.settlement import Settlement, resume_open


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("settle", help="close the batch with the host")
    parser.add_argument("--config", required=True)
    parser.add_argument("--operator", required=True)
    parser.add_argument("--merchant", help="merchant profile (default: the first)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    merchant = choose(config, args.merchant)
    journal = Journal(config.journal.path, data_key=data_key_source(config.keys.root_secret_file))
    journal.retention_days = config.journal.retention_days  # purged after a close
    try:
        operators = Operators(journal, config.operators, idle_timeout=config.timeouts.operator_idle)
        session = login(operators, args.operator)
        operators.require(session, "settle")
        keys = open_key_source(config)
        client = HostClient.from_config(config.host)
        journal.claim_owner(timeout=30.0)  # never recover beside a live `posterm run`
        journal.recover()
        journal.purge(config.journal.retention_days)
        saf = Saf(
            journal,
            client,
            keys,
            backoff=Backoff(config.host.retry_initial, config.host.retry_max),
        )
        # Another profile's interrupted settlement is finished first; the chosen one's
        # is this close (begin_settlement reuses its write-ahead record).
        resume_open(
            journal, client, keys, saf, config.merchants, nii=config.host.nii, exclude=merchant
        )
        result = Settlement(journal, client, keys, saf, nii=config.host.nii).close(
            merchant, operator=session.operator
        )
    finally:
        journal.close()
    print(json.dumps(result.as_dict(), sort_keys=True))
    return 0 if result.closed else 1
