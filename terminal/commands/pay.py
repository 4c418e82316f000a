"""`posterm pay` (rig contract): recover, run one transaction, print one JSON object.

``posterm pay --config FILE --operator ID --type TYPE [--amount MINOR] [--pin PIN]
[--rrn RRN] [--auth-code CODE] [--merchant NAME] [--entry chip|contactless|swipe|keyed|qr]
[--qr CODE] [--voucher CODE]``; the operator's password in ``POSTERM_PASSWORD``.
Refund, void and keyed entry need a supervisor (an admin may too). ``--pin`` is
accepted only when the configured keypad is simulated (``sim://``). Exit 0 approved,
1 declined or terminated, 2 usage or configuration error (stderr, no traceback).
Keyed entry reads one ``PAN=YYMM`` line from stdin. A ``stdout`` printer prints to
stderr here, since stdout carries the JSON object.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from terminal.app import is_simulated, login_to_idle, open_terminal
from terminal.commands.operator import login
from terminal.config import Config, load_config
from terminal.errors import UsageError
from terminal.flows import ENTRIES, TYPES, TxnRequest, result_object, run_flow
from terminal.operators import Operators

MAX_AMOUNT = 999_999_999_999  # host-spec DE 4: minor units, 12 digits


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("pay", help="run one transaction and print its JSON result")
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True)
    parser.add_argument("--operator", required=True)
    parser.add_argument("--type", required=True, choices=TYPES)
    parser.add_argument("--amount", type=int, help="minor units")
    parser.add_argument("--pin", help="typed by a simulated keypad only")
    parser.add_argument("--rrn")
    parser.add_argument("--auth-code")
    parser.add_argument("--merchant")
    parser.add_argument("--entry", choices=ENTRIES)
    parser.add_argument("--qr")
    parser.add_argument("--voucher")


def request_from(fields: dict[str, Any], operator: str | None) -> TxnRequest:
    """A TxnRequest from pay flags / ECR JSON fields, checked (UsageError otherwise)."""
    txn_type = fields.get("type")
    if txn_type not in TYPES:
        raise UsageError(f"type must be one of {', '.join(TYPES)}")
    entry = fields.get("entry")
    if entry is not None and entry not in ENTRIES:
        raise UsageError(f"entry must be one of {', '.join(ENTRIES)}")
    amount = fields.get("amount")
    if amount is not None and (
        not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount <= MAX_AMOUNT
    ):
        raise UsageError("amount must be a non-negative integer in minor units, 12 digits at most")
    if amount is None and txn_type in ("sale", "refund", "preauth", "topup"):
        raise UsageError(f"{txn_type} needs --amount")
    if txn_type in ("void", "completion") and not fields.get("rrn"):
        raise UsageError(f"{txn_type} needs --rrn of the original")
    if entry == "qr" and not fields.get("qr"):
        raise UsageError("--entry qr needs --qr CODE")
    for name in ("rrn", "auth_code", "merchant", "qr", "voucher"):
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{name} must be a string")
    return TxnRequest(
        type=txn_type,
        amount=amount,
        entry=entry,
        rrn=fields.get("rrn"),
        auth_code=fields.get("auth_code"),
        merchant=fields.get("merchant"),
        qr=fields.get("qr"),
        voucher=fields.get("voucher"),
        operator=operator,
    )


def permissions(request: TxnRequest) -> list[str]:
    needed = [request.type]
    if request.entry == "keyed":
        needed.append("keyed")
    return needed


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.pin is not None and not is_simulated(config.devices.keypad):
        raise UsageError("--pin is accepted only when [devices].keypad is sim://")
    request = request_from(
        {
            "type": args.type,
            "amount": args.amount,
            "entry": args.entry,
            "rrn": args.rrn,
            "auth_code": args.auth_code,
            "merchant": args.merchant,
            "qr": args.qr,
            "voucher": args.voucher,
        },
        args.operator,
    )
    result = execute(config, request, pin=args.pin, keep_stdout=True)
    print(json.dumps(result))
    return 0 if result["decision"] == "approved" else 1


def execute(
    config: Config, request: TxnRequest, *, pin: str | None = None, keep_stdout: bool = True
) -> dict[str, Any]:
    """Log in, boot (self-tests, recovery), run ``request``, return the result object.
    The one code path behind ``posterm pay`` and ``posterm demo``."""
    config.merchant(request.merchant)  # an unknown profile is a config error (exit 2)
    if request.operator is None:
        raise UsageError("an operator is required")
    terminal = open_terminal(config, pin=pin, keep_stdout=keep_stdout)
    try:
        operators = Operators(
            terminal.ports.journal, config.operators, idle_timeout=config.timeouts.operator_idle
        )
        session = login(operators, request.operator)
        for action in permissions(request):
            operators.require(session, action)
        terminal.boot(sign_on=False)
        login_to_idle(terminal)
        ctx = run_flow(request, terminal.ports)
    finally:
        terminal.close()
    return result_object(ctx)
