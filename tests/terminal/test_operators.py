"""terminal.operators + merchants: roles, permissions, lock-out, idle log-out, profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminal.config import OperatorPolicy, parse_config
from terminal.errors import UsageError
from terminal.journal import Journal
from terminal.merchants import choose
from terminal.operators import (
    PERMISSIONS,
    LoginFailure,
    OperatorError,
    Operators,
    PermissionDenied,
    Role,
    Session,
)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ops(tmp_path: Path) -> Operators:
    clock = Clock()
    journal = Journal(tmp_path / "j.db", clock=clock)
    o = Operators(
        journal, OperatorPolicy(3, 60.0, 4), clock=clock, idle_timeout=120, scrypt_n=2**10
    )
    o.clock = clock  # type: ignore[attr-defined]
    return o


def admin(ops: Operators) -> Session:
    ops.add("boss", "admin", "secret1", by=None)
    session = ops.login("boss", "secret1")
    assert isinstance(session, Session)
    return session


def test_first_operator_must_be_admin(ops: Operators) -> None:
    with pytest.raises(OperatorError, match="first operator"):
        ops.add("c1", "cashier", "pass1", by=None)
    admin(ops)
    with pytest.raises(OperatorError, match="only a logged-in admin"):
        ops.add("c1", "cashier", "pass1", by=None)


def test_only_admin_adds(ops: Operators) -> None:
    boss = admin(ops)
    ops.add("sup", "supervisor", "pass2", by=boss)
    sup = ops.login("sup", "pass2")
    assert isinstance(sup, Session) and sup.role is Role.SUPERVISOR
    with pytest.raises(PermissionDenied, match="needs admin"):
        ops.add("c2", "cashier", "pass3", by=sup)
    with pytest.raises(OperatorError, match="already exists"):
        ops.add("sup", "cashier", "pass3", by=boss)


def test_password_stored_as_scrypt_only(ops: Operators, tmp_path: Path) -> None:
    admin(ops)
    record = ops.journal.operator("boss")
    assert record is not None and record.hash != b"secret1" and len(record.salt) == 16
    assert record.params.startswith("n=")
    assert b"secret1" not in (tmp_path / "j.db").read_bytes()


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (Role.CASHIER, ["sale", "preauth", "balance"], ["refund", "void", "keyed", "settle"]),
        (Role.SUPERVISOR, ["refund", "void", "keyed", "settle"], ["operator_add"]),
        (Role.ADMIN, list(PERMISSIONS), []),
    ],
)
def test_permission_table(role: Role, allowed: list[str], refused: list[str]) -> None:
    session = Session("x", role, 0.0, 60.0)
    assert all(session.may(a) for a in allowed)
    assert not any(session.may(a) for a in refused)


def test_lockout_after_failures_and_unlock_after_time(ops: Operators) -> None:
    admin(ops)
    assert ops.login("boss", "nope") is LoginFailure.BAD_CREDENTIALS
    assert ops.login("boss", "nope") is LoginFailure.BAD_CREDENTIALS
    assert ops.login("boss", "nope") is LoginFailure.LOCKED
    assert ops.login("boss", "secret1") is LoginFailure.LOCKED  # even the right password
    ops.clock.now += 61  # type: ignore[attr-defined]
    assert isinstance(ops.login("boss", "secret1"), Session)
    assert ops.login("ghost", "x") is LoginFailure.UNKNOWN
    assert LoginFailure.UNKNOWN.message == LoginFailure.BAD_CREDENTIALS.message


def test_idle_auto_logout(ops: Operators) -> None:
    boss = admin(ops)
    ops.clock.now += 100  # type: ignore[attr-defined]
    ops.require(boss, "settle")  # touches
    ops.clock.now += 100  # type: ignore[attr-defined]
    assert ops.check(boss)
    ops.clock.now += 121  # type: ignore[attr-defined]
    with pytest.raises(OperatorError, match="logged out"):
        ops.require(boss, "sale")


def test_merchant_choice(tmp_path: Path) -> None:
    config = parse_config(
        {
            "terminal": {"data_dir": str(tmp_path)},
            "host": {"url": "tcp://127.0.0.1:1"},
            "merchants": [
                {"name": "A", "tid": "TERM0001", "mid": "MERCHANT0000001"},
                {"name": "B", "tid": "TERM0002", "mid": "MERCHANT0000002"},
            ],
        }
    )
    assert choose(config, None).name == "A"
    assert choose(config, "B").tid == "TERM0002"
    with pytest.raises(UsageError, match="configured: 'A', 'B'"):
        choose(config, "C")
