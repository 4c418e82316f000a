"""`posterm operator add ID --role R --config FILE [--operator ADMIN]` (rig contract).

The password comes from ``POSTERM_PASSWORD`` (or a prompt on a terminal). The first
operator of a new terminal must be an admin and needs no log-in; after that an admin
(``--operator``; their password in ``POSTERM_PASSWORD``) adds operators. With
``--operator`` the new operator's password is asked separately: ``POSTERM_NEW_PASSWORD``
(or a prompt); when that is unset too, ``POSTERM_PASSWORD`` is used for both.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

from terminal.config import load_config
from terminal.errors import UsageError
from terminal.journal import Journal
from terminal.operators import Operators, Role, Session


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("operator", help="manage operators and roles")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add an operator")
    add.add_argument("id")
    add.add_argument("--role", required=True, choices=[r.name.lower() for r in Role])
    add.add_argument("--config", required=True)
    add.add_argument("--operator", help="the admin adding (not needed for the first)")
    add.set_defaults(func=run_add)
    listing = actions.add_parser("list", help="list operators (IDs and roles)")
    listing.add_argument("--config", required=True)
    listing.set_defaults(func=run_list)


def password(variable: str = "POSTERM_PASSWORD", prompt: str = "Password: ") -> str:
    value = os.environ.get(variable)
    if value is not None:
        return value
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    raise UsageError(f"no password: set {variable}")


def login(operators: Operators, operator_id: str) -> Session:
    """Log ``operator_id`` in with the password from the environment, or fail (exit 2)."""
    result = operators.login(operator_id, password())
    if not isinstance(result, Session):
        raise UsageError(f"operator {operator_id}: {result.message}")
    return result


def open_operators(config_path: str) -> Operators:
    config = load_config(config_path)
    journal = Journal(config.journal.path)
    return Operators(journal, config.operators, idle_timeout=config.timeouts.operator_idle)


def run_add(args: argparse.Namespace) -> int:
    operators = open_operators(args.config)
    try:
        by = None
        if args.operator:
            by = login(operators, args.operator)
            new_password = os.environ.get("POSTERM_NEW_PASSWORD")
            if new_password is None:
                new_password = password()
        else:
            new_password = password()
        operators.add(args.id, args.role, new_password, by=by)
    finally:
        operators.journal.close()
    print(json.dumps({"result": "added", "id": args.id, "role": args.role}))
    return 0


def run_list(args: argparse.Namespace) -> int:
    operators = open_operators(args.config)
    try:
        for operator_id, role in operators.journal.operator_roles():
            print(json.dumps({"id": operator_id, "role": role}))
    finally:
        operators.journal.close()
    return 0
