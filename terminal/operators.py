"""Operators: scrypt password hashes, roles, permissions, lock-out and idle log-out.

Roles are ordered (cashier < supervisor < admin) and an action needs a minimum role, so
"an admin may do whatever a supervisor may" holds by construction. Failed log-ins are
counted in the journal (a power cycle does not reset a lock-out). Log-in failures are
returned values; a permission refused is :class:`PermissionDenied` (a caller bug or an
operator trying what their role does not allow — the CLI maps it to exit 2).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from terminal.config import OperatorPolicy
from terminal.errors import TerminalError
from terminal.journal import Journal, JournalError, Operator


class Role(enum.IntEnum):
    CASHIER = 1
    SUPERVISOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.upper()]
        except KeyError:
            raise OperatorError(f"unknown role {text!r} (cashier, supervisor, admin)") from None


# issue 8: refund, void, keyed entry and settlement need a supervisor; operators are
# managed by an admin. Everything else a cashier may do.
PERMISSIONS: dict[str, Role] = {
    "sale": Role.CASHIER,
    "preauth": Role.CASHIER,
    "completion": Role.CASHIER,
    "balance": Role.CASHIER,
    "topup": Role.CASHIER,
    "reprint": Role.CASHIER,  # the last receipt again: the cashier hands it over
    "refund": Role.SUPERVISOR,
    "void": Role.SUPERVISOR,
    "keyed": Role.SUPERVISOR,
    "settle": Role.SUPERVISOR,
    "journal": Role.SUPERVISOR,
    "x_report": Role.SUPERVISOR,  # the till's running totals are the supervisor's
    "history": Role.SUPERVISOR,  # other cashiers' transactions
    "operator_add": Role.ADMIN,
    "operator_remove": Role.ADMIN,
    "keys": Role.ADMIN,
}

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class OperatorError(TerminalError):
    """Bad operator request (unknown role, duplicate ID, weak password …)."""


class PermissionDenied(OperatorError):
    def __init__(self, operator: str, action: str, needed: Role) -> None:
        super().__init__(f"operator {operator} may not {action}: needs {needed.name.lower()}")
        self.operator = operator
        self.action = action


class LoginFailure(enum.Enum):
    UNKNOWN = "unknown"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"

    @property
    def message(self) -> str:
        """What the operator is told: the same for an unknown ID and a wrong password."""
        if self is LoginFailure.LOCKED:
            return "operator locked out"
        return "unknown operator or wrong password"


@dataclass(slots=True)
class Session:
    """A logged-in operator; expires after ``idle_timeout`` without :meth:`touch`."""

    operator: str
    role: Role
    last_activity: float
    idle_timeout: float

    def expired(self, now: float) -> bool:
        return now - self.last_activity > self.idle_timeout

    def touch(self, now: float) -> None:
        self.last_activity = now

    def may(self, action: str) -> bool:
        return self.role >= PERMISSIONS[action]


def hash_password(
    password: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 << 20)


def _params(text: str) -> tuple[int, int, int]:
    values = dict(part.split("=") for part in text.split(","))
    return int(values["n"]), int(values["r"]), int(values["p"])


class Operators:
    def __init__(
        self,
        journal: Journal,
        policy: OperatorPolicy,
        *,
        clock: Callable[[], float] = time.time,
        idle_timeout: float = 300.0,
        random: Callable[[int], bytes] = os.urandom,
        scrypt_n: int = SCRYPT_N,
    ) -> None:
        self.journal = journal
        self.policy = policy
        self._clock = clock
        self.idle_timeout = idle_timeout
        self._random = random
        self._n = scrypt_n

    def count(self) -> int:
        return self.journal.operator_count()

    def add(self, operator_id: str, role: Role | str, password: str, *, by: Session | None) -> None:
        """Add an operator. The first operator of a terminal must be an admin and needs
        no session; after that ``by`` must be a live admin session."""
        role = role if isinstance(role, Role) else Role.parse(role)
        if not _ID.match(operator_id):
            raise OperatorError("operator ID must be 1-32 of A-Z a-z 0-9 _ . -")
        if len(password) < self.policy.min_password_length:
            raise OperatorError(
                f"password must be at least {self.policy.min_password_length} characters"
            )
        first = self.count() == 0
        if first and role is not Role.ADMIN:
            raise OperatorError("the first operator of a terminal must be an admin")
        if not first:
            if by is None:
                raise OperatorError("only a logged-in admin may add operators")
            self.require(by, "operator_add")
        if self.journal.operator(operator_id) is not None:
            raise OperatorError(f"operator {operator_id} already exists")
        salt = self._random(16)
        record = Operator(
            id=operator_id,
            role=role.name.lower(),
            hash=hash_password(password, salt, self._n),
            salt=salt,
            params=f"n={self._n},r={SCRYPT_R},p={SCRYPT_P}",
            failures=0,
            locked_until=0.0,
            created_at=self._clock(),
            created_by=None if by is None else by.operator,
        )
        try:
            self.journal.insert_operator(record, first_must_be=None if by else "admin")
        except JournalError as error:
            raise OperatorError(str(error)) from None

    def login(self, operator_id: str, password: str) -> Session | LoginFailure:
        now = self._clock()
        record = self.journal.operator(operator_id)
        if record is None:
            # Same work as a real check, so timing does not tell which IDs exist.
            hash_password(password, b"\x00" * 16, self._n)
            self.journal.audit(operator_id, "login failed", {"reason": "unknown"})
            return LoginFailure.UNKNOWN
        if record.locked_until > now:
            self.journal.audit(operator_id, "login refused", {"reason": "locked"})
            return LoginFailure.LOCKED
        n, r, p = _params(record.params)
        if not hmac.compare_digest(hash_password(password, record.salt, n, r, p), record.hash):
            failures = record.failures + 1
            locked = 0.0
            if failures >= self.policy.max_failures:
                locked = now + self.policy.lockout_seconds
                failures = 0
            self.journal.update_operator_failures(operator_id, failures, locked)
            self.journal.audit(operator_id, "login failed", {"locked": bool(locked)})
            return LoginFailure.LOCKED if locked else LoginFailure.BAD_CREDENTIALS
        if record.failures or record.locked_until:
            self.journal.update_operator_failures(operator_id, 0, 0.0)
        self.journal.audit(operator_id, "login", {"role": record.role})
        return Session(operator_id, Role.parse(record.role), now, self.idle_timeout)

    def check(self, session: Session) -> bool:
        """True and the idle timer restarted when the session is still live."""
        now = self._clock()
        if session.expired(now):
            self.journal.audit(session.operator, "auto logout", {})
            return False
        session.touch(now)
        return True

    def require(self, session: Session, action: str) -> None:
        """Raise unless ``session`` is live and its role may do ``action``."""
        if not self.check(session):
            raise OperatorError(f"operator {session.operator} was logged out (idle)")
        needed = PERMISSIONS[action]
        if session.role < needed:
            self.journal.audit(session.operator, "permission denied", {"action": action})
            raise PermissionDenied(session.operator, action, needed)

    def remove(self, operator_id: str, *, by: Session) -> None:
        self.require(by, "operator_remove")
        self.journal.remove_operator(operator_id, by.operator)
