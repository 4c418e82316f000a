"""The journal: the terminal's one durable store (SQLite, WAL, synchronous=FULL).

Every method that changes state is one SQLite transaction (``BEGIN IMMEDIATE`` … commit),
so a power cut leaves either all of it or none of it. Write-ahead is the rule: the row that
protects an action is committed before the action — :meth:`Journal.create_transaction`
with ``arm_reversal=True`` commits an *armed* reversal before the request may leave, and
:meth:`Journal.recover` turns every armed reversal into a queued one at boot (host-spec
rule 1: a request sent whose outcome was never recorded is reversed).
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import cbor2

from terminal.errors import TerminalError
from terminal.journal.crash import CrashHook
from terminal.journal.pan import PanCipher, PanCipherError, mask_pan
from terminal.journal.records import (
    CREDIT_TYPES,
    DEBIT_TYPES,
    Fields,
    NewTransaction,
    OpenSettlement,
    Operator,
    QueuedAdvice,
    QueuedReversal,
    Status,
    Totals,
    Transaction,
    TxnType,
)
from terminal.journal.schema import MIGRATIONS, SCHEMA_VERSION
from terminal.journal.scrub import scrub_emv, scrub_fields

STAN_MAX = 999_999
BATCH_MAX = 999_999


class JournalError(TerminalError):
    """The journal cannot be used (corrupt, newer schema, wrong data key, bad call)."""


class JournalBusy(JournalError):
    """Another process owns the terminal (holds the journal's owner lock)."""


class Journal:
    """Open (creating and migrating when needed) the journal at ``path``.

    Parameters
    ----------
    path:
        The SQLite file; its directory is created.
    data_key:
        32-byte AES key for PANs, or a callable giving it (called once, lazily), or None
        when the caller needs no PAN (``posterm journal`` lists masked rows only).
    clock:
        Seconds since the epoch; injected so tests and replays are deterministic.

    Raises
    ------
    JournalError
        Newer schema than this firmware, or a data key other than the one the journal
        was written with.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        data_key: bytes | Callable[[], bytes] | None = None,
        clock: Callable[[], float] = time.time,
        crash_hook: CrashHook | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._crash = crash_hook or CrashHook()
        # [journal].retention_days, set by whoever opened it from a configuration:
        # a successful settlement purges what is older (Settlement.close).
        self.retention_days: int | None = None
        self._lock = threading.RLock()
        self._key_source = data_key
        self._cipher: PanCipher | None = None
        self._owner: IO[bytes] | None = None
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._migrate()

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self.release_owner()
        self._db.close()

    def claim_owner(self, timeout: float = 0.0) -> None:
        """Become the one process that owns the terminal: only the owner may
        :meth:`recover` or send. An exclusive ``flock`` on ``<journal>.lock``, released
        by :meth:`close` or process death; waits up to ``timeout`` seconds.

        Raises
        ------
        JournalBusy
            Another process (a running ``posterm run``, another command) owns it.
        """
        if self._owner is not None:
            return
        handle = open(self.path.with_name(self.path.name + ".lock"), "a+b")  # noqa: SIM115
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    raise JournalBusy(
                        "another posterm process owns this terminal's journal"
                    ) from None
                time.sleep(0.05)
        self._owner = handle

    def release_owner(self) -> None:
        if self._owner is not None:
            self._owner.close()  # closing the descriptor drops the flock
            self._owner = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One durable write transaction (the crash hook fires around its commit)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._crash.before_commit()
            self._db.execute("COMMIT")
            self._crash.after_commit()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"journal schema {version} is newer than this firmware ({SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number + 1}")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _pan_cipher(self) -> PanCipher:
        if self._cipher is None:
            source = self._key_source
            if source is None:
                raise PanCipherError("no data key given: this journal handle cannot hold PANs")
            key = source() if callable(source) else source
            cipher = PanCipher(key)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'data_kcv'").fetchone()
            if row is None:
                with self._write() as db:
                    db.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('data_kcv', ?)",
                        (cipher.kcv,),
                    )
            elif bytes(row[0]) != cipher.kcv:
                raise JournalError("data key does not match the one this journal was written with")
            self._cipher = cipher
        return self._cipher

    def _now(self) -> float:
        return float(self._clock())

    # ------------------------------------------------------------------ counters

    def _bump(self, db: sqlite3.Connection, name: str, first: int, maximum: int) -> int:
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = first if row is None else (row[0] % maximum) + 1
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        return value

    def _peek(self, name: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return default if row is None else int(row[0])

    def _next_stan(self, db: sqlite3.Connection) -> str:
        # host-spec DE 11: 000001–999999, unique per terminal, wraps after 999999.
        return f"{self._bump(db, 'stan', 1, STAN_MAX):06d}"

    def last_stan(self) -> str | None:
        value = self._peek("stan", 0)
        return f"{value:06d}" if value else None

    def next_stan(self) -> str:
        """A STAN for a message that has no transaction row (0800, 0500, 0320)."""
        with self._write() as db:
            return self._next_stan(db)

    def current_batch(self, tid: str, mid: str) -> int:
        """The open batch number of a merchant profile (1 until the first close)."""
        return self._peek(f"batch:{tid}:{mid}", 1)

    def counter(self, name: str) -> int | None:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def set_counter(self, name: str, value: int) -> None:
        """A named counter for other owners (e.g. a DUKPT KSN if the key store has none)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    # ------------------------------------------------------------------ transactions

    def create_transaction(
        self,
        new: NewTransaction,
        *,
        mti: str | None = None,
        request: Mapping[int, str | bytes] | None = None,
        arm_reversal: bool = False,
    ) -> Transaction:
        """Journal a new transaction and give it a STAN and the open batch number.

        With ``arm_reversal`` (an online request about to leave), an armed reversal row
        is committed in the same transaction: from now on a crash means "reverse it".
        ``request`` (the fields to send, without STAN: the journal adds DE 11) is stored
        scrubbed. The caller sets DE 11 = ``result.stan`` on the message it sends.
        """
        now = self._now()
        pan_enc = self._pan_cipher().encrypt(new.pan) if new.pan else None
        with self._write() as db:
            stan = self._next_stan(db)
            batch = self._peek(f"batch:{new.tid}:{new.mid}", 1)
            fields = scrub_fields(request or {})
            if request is not None:
                fields[11] = stan
            cursor = db.execute(
                "INSERT INTO transactions (merchant, tid, mid, batch, type, amount, currency,"
                " status, stan, mti, local_datetime, entry_mode, scheme, pan_masked, pan_enc,"
                " original_id, offline, operator, request, emv, extra, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    new.merchant,
                    new.tid,
                    new.mid,
                    batch,
                    TxnType(new.type).value,
                    new.amount,
                    new.currency,
                    Status.PENDING.value,
                    stan,
                    mti,
                    new.local_datetime,
                    new.entry_mode,
                    new.scheme,
                    mask_pan(new.pan) if new.pan else None,
                    pan_enc,
                    new.original_id,
                    int(new.offline),
                    new.operator,
                    cbor2.dumps(fields),
                    cbor2.dumps(scrub_emv(new.emv)),
                    cbor2.dumps(new.extra),
                    now,
                    now,
                ),
            )
            txn_id = int(cursor.lastrowid or 0)
            if arm_reversal:
                db.execute(
                    "INSERT INTO reversals (txn_id, state, reason, created_at)"
                    " VALUES (?, 'armed', 'no valid response', ?)",
                    (txn_id, now),
                )
        return self.transaction(txn_id)

    def record_response(
        self,
        txn_id: int,
        *,
        approved: bool,
        fields: Mapping[int, str | bytes],
        final: bool = True,
        reason: str | None = None,
        emv: Mapping[int, bytes] | None = None,
    ) -> Transaction:
        """Record a valid host response.

        ``final=False`` when a card step still decides (chip: second GENERATE AC after a
        host approval) — the reversal stays armed and the row pending until
        :meth:`finish`. With ``final=True`` the armed reversal is cancelled, an approved
        void marks its original ``voided``, and the status becomes approved/declined.
        """
        now = self._now()
        response = scrub_fields(fields)
        status = Status.APPROVED if approved else Status.DECLINED
        with self._write() as db:
            self._require(db, txn_id, (Status.PENDING,))
            db.execute(
                "UPDATE transactions SET rrn = coalesce(?, rrn),"
                " auth_code = coalesce(?, auth_code), response_code = ?, response = ?,"
                " reason = ?, updated_at = ?,"
                " emv = CASE WHEN ? IS NULL THEN emv ELSE ? END WHERE id = ?",
                (
                    _text(response.get(37)),
                    _text(response.get(38)),
                    _text(response.get(39)),
                    cbor2.dumps(response),
                    reason,
                    now,
                    None if emv is None else 1,
                    None if emv is None else cbor2.dumps(self._merged_emv(db, txn_id, emv)),
                    txn_id,
                ),
            )
            if final or not approved:
                self._settle_outcome(db, txn_id, status, now)
        return self.transaction(txn_id)

    def finish(
        self,
        txn_id: int,
        *,
        approved: bool,
        reason: str | None = None,
        emv: Mapping[int, bytes] | None = None,
    ) -> Transaction:
        """The card's final word after a host approval (host-spec rule 1, AAC case).

        Approved: the row becomes approved and the armed reversal is cancelled.
        Declined by the card: the reversal is queued (with a new STAN) in the same commit
        and the row becomes ``reversal_pending``.
        """
        now = self._now()
        with self._write() as db:
            self._require(db, txn_id, (Status.PENDING,))
            if emv is not None:
                db.execute(
                    "UPDATE transactions SET emv = ? WHERE id = ?",
                    (cbor2.dumps(self._merged_emv(db, txn_id, emv)), txn_id),
                )
            if reason is not None:
                db.execute("UPDATE transactions SET reason = ? WHERE id = ?", (reason, txn_id))
            if approved:
                self._settle_outcome(db, txn_id, Status.APPROVED, now)
            else:
                self._queue_reversal(db, txn_id, reason or "card declined after approval", now)
        return self.transaction(txn_id)

    def no_valid_response(self, txn_id: int, reason: str = "no valid response") -> Transaction:
        """Timeout, broken link, bad MAC, undecodable: queue the reversal (rule 1)."""
        now = self._now()
        with self._write() as db:
            self._require(db, txn_id, (Status.PENDING,))
            db.execute("UPDATE transactions SET reason = ? WHERE id = ?", (reason, txn_id))
            self._queue_reversal(db, txn_id, reason, now)
        return self.transaction(txn_id)

    def not_sent(self, txn_id: int) -> Transaction:
        """The request certainly never left (connect or TLS pin check failed): the armed
        reversal is cancelled; the row stays pending for the flow to finish offline
        (Y3/Z3 advice) or terminate."""
        now = self._now()
        with self._write() as db:
            self._require(db, txn_id, (Status.PENDING,))
            db.execute(
                "UPDATE reversals SET state = 'cancelled', done_at = ? WHERE txn_id = ?"
                " AND state = 'armed'",
                (now, txn_id),
            )
        return self.transaction(txn_id)

    def complete_offline(
        self,
        txn_id: int,
        *,
        approved: bool,
        response_code: str | None = None,
        advice: Mapping[int, str | bytes] | None = None,
        advice_kind: str = "offline",
        reason: str | None = None,
        emv: Mapping[int, bytes] | None = None,
        rrn: str | None = None,
        auth_code: str | None = None,
    ) -> Transaction:
        """An outcome decided without the host (offline approval Y1/Y3, offline decline,
        termination). With ``advice`` the 0220 fields are queued in the same commit
        (host-spec rule 2) — the approval and its advice exist together or not at all.
        A completion passes the RRN / auth code of its pre-authorisation, which its
        0220 and later its 0320 carry (host-spec DE 37 / 38)."""
        now = self._now()
        status = Status.APPROVED if approved else Status.DECLINED
        with self._write() as db:
            self._require(db, txn_id, (Status.PENDING,))
            db.execute(
                "UPDATE transactions SET response_code = ?, reason = ?, offline = 1,"
                " rrn = coalesce(?, rrn), auth_code = coalesce(?, auth_code),"
                " updated_at = ? WHERE id = ?",
                (response_code, reason, rrn, auth_code, now, txn_id),
            )
            if emv is not None:
                db.execute(
                    "UPDATE transactions SET emv = ? WHERE id = ?",
                    (cbor2.dumps(self._merged_emv(db, txn_id, emv)), txn_id),
                )
            self._settle_outcome(db, txn_id, status, now)
            if advice is not None:
                self._insert_advice(db, txn_id, advice_kind, advice, now)
        return self.transaction(txn_id)

    def terminate(self, txn_id: int, reason: str) -> Transaction:
        """Ended before anything was approved and before a request left (no reversal)."""
        now = self._now()
        with self._write() as db:
            self._require(db, txn_id, (Status.PENDING,))
            armed = db.execute(
                "SELECT 1 FROM reversals WHERE txn_id = ? AND state = 'armed'", (txn_id,)
            ).fetchone()
            if armed:
                raise JournalError(
                    f"transaction {txn_id} has an armed reversal: use no_valid_response"
                )
            db.execute(
                "UPDATE transactions SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
                (Status.TERMINATED.value, reason, now, txn_id),
            )
        return self.transaction(txn_id)

    def queue_advice(
        self, txn_id: int, fields: Mapping[int, str | bytes], kind: str = "completion"
    ) -> int:
        """Queue a 0220 (fields without KS/MAC; DE 2 is added from the encrypted PAN)."""
        with self._write() as db:
            return self._insert_advice(db, txn_id, kind, fields, self._now())

    def set_extra(self, txn_id: int, extra: Mapping[str, Any]) -> None:
        """Attach the flows' own data (receipt fields …) — never a secret."""
        with self._write() as db:
            db.execute(
                "UPDATE transactions SET extra = ?, updated_at = ? WHERE id = ?",
                (cbor2.dumps(dict(extra)), self._now(), txn_id),
            )

    def _require(self, db: sqlite3.Connection, txn_id: int, allowed: tuple[Status, ...]) -> None:
        row = db.execute("SELECT status FROM transactions WHERE id = ?", (txn_id,)).fetchone()
        if row is None:
            raise JournalError(f"no transaction {txn_id}")
        if Status(row[0]) not in allowed:
            raise JournalError(f"transaction {txn_id} is {row[0]}, not {allowed[0].value}")

    def _merged_emv(
        self, db: sqlite3.Connection, txn_id: int, emv: Mapping[int, bytes]
    ) -> dict[int, bytes]:
        row = db.execute("SELECT emv FROM transactions WHERE id = ?", (txn_id,)).fetchone()
        merged = dict(cbor2.loads(row[0])) if row and row[0] else {}
        merged.update(scrub_emv(dict(emv)))
        return merged

    def _settle_outcome(
        self, db: sqlite3.Connection, txn_id: int, status: Status, now: float
    ) -> None:
        db.execute(
            "UPDATE transactions SET status = ?, updated_at = ? WHERE id = ?",
            (status.value, now, txn_id),
        )
        db.execute(
            "UPDATE reversals SET state = 'cancelled', done_at = ? WHERE txn_id = ? "
            "AND state = 'armed'",
            (now, txn_id),
        )
        if status is Status.APPROVED:
            row = db.execute(
                "SELECT type, original_id FROM transactions WHERE id = ?", (txn_id,)
            ).fetchone()
            if row[0] == TxnType.VOID.value and row[1] is not None:
                db.execute(
                    "UPDATE transactions SET status = ?, updated_at = ? WHERE id = ?",
                    (Status.VOIDED.value, now, row[1]),
                )

    def _queue_reversal(self, db: sqlite3.Connection, txn_id: int, reason: str, now: float) -> None:
        stan = self._next_stan(db)  # host-spec DE 11: a reversal gets a new STAN
        updated = db.execute(
            "UPDATE reversals SET state = 'queued', stan = ?, reason = ?, queued_at = ?"
            " WHERE txn_id = ? AND state = 'armed'",
            (stan, reason, now, txn_id),
        ).rowcount
        if not updated:
            db.execute(
                "INSERT INTO reversals (txn_id, state, stan, reason, created_at, queued_at)"
                " VALUES (?, 'queued', ?, ?, ?, ?)",
                (txn_id, stan, reason, now, now),
            )
        db.execute(
            "UPDATE transactions SET status = ?, updated_at = ? WHERE id = ?",
            (Status.REVERSAL_PENDING.value, now, txn_id),
        )

    def _insert_advice(
        self,
        db: sqlite3.Connection,
        txn_id: int,
        kind: str,
        fields: Mapping[int, str | bytes],
        now: float,
    ) -> int:
        cursor = db.execute(
            "INSERT INTO advices (txn_id, kind, state, fields, created_at)"
            " VALUES (?, ?, 'queued', ?, ?)",
            (txn_id, kind, cbor2.dumps(scrub_fields(fields)), now),
        )
        return int(cursor.lastrowid or 0)

    # ------------------------------------------------------------------ recovery & queues

    def recover(self) -> int:
        """At boot: every armed reversal (request maybe sent, outcome never recorded)
        becomes a queued one (host-spec rule 1); a row still pending without one (the
        process died before any request left) is terminated. Returns reversals queued.

        Only the process that owns the terminal calls this, at its start: run beside a
        live ``posterm run`` it would reverse that process's request in flight."""
        now = self._now()
        with self._write() as db:
            armed = [
                row[0]
                for row in db.execute(
                    "SELECT txn_id FROM reversals WHERE state = 'armed' ORDER BY id"
                )
            ]
            for txn_id in armed:
                self._queue_reversal(db, txn_id, "outcome not recorded (recovered at boot)", now)
            # Rows interrupted before any request could leave (no reversal armed): nothing
            # was approved by anyone, so they end as terminated.
            interrupted = db.execute(
                "UPDATE transactions SET status = ?, reason = ?, updated_at = ?"
                " WHERE status = ? AND NOT EXISTS (SELECT 1 FROM reversals r"
                " WHERE r.txn_id = transactions.id AND r.state IN ('armed', 'queued'))",
                (
                    Status.TERMINATED.value,
                    "interrupted (recovered at boot)",
                    now,
                    Status.PENDING.value,
                ),
            ).rowcount
            if armed or interrupted:
                self._audit(
                    db,
                    None,
                    "recovery",
                    {"reversals_queued": len(armed), "terminated": interrupted},
                    now,
                )
        return len(armed)

    def pending_reversals(self) -> list[QueuedReversal]:
        """Queued reversals, oldest first (the order they are sent)."""
        return [
            QueuedReversal(id=r[0], txn_id=r[1], stan=r[2], reason=r[3], attempts=r[4])
            for r in self._db.execute(
                "SELECT id, txn_id, stan, reason, attempts FROM reversals"
                " WHERE state = 'queued' ORDER BY id"
            )
        ]

    def pending_advices(self) -> list[QueuedAdvice]:
        """Queued advices in the order they happened."""
        return [
            QueuedAdvice(
                id=r[0], txn_id=r[1], kind=r[2], fields=dict(cbor2.loads(r[3])), attempts=r[4]
            )
            for r in self._db.execute(
                "SELECT id, txn_id, kind, fields, attempts FROM advices"
                " WHERE state = 'queued' ORDER BY id"
            )
        ]

    def reversal_attempted(self, reversal_id: int) -> None:
        """Committed before each send so a repeat after a crash goes out as 0401."""
        with self._write() as db:
            db.execute(
                "UPDATE reversals SET attempts = attempts + 1, last_attempt_at = ? WHERE id = ?",
                (self._now(), reversal_id),
            )

    def reversal_acknowledged(self, reversal_id: int, response_code: str) -> None:
        """0410 received (any code; 94 = host already has it): the reversal is done."""
        now = self._now()
        with self._write() as db:
            row = db.execute(
                "SELECT txn_id FROM reversals WHERE id = ? AND state = 'queued'", (reversal_id,)
            ).fetchone()
            if row is None:
                return
            db.execute(
                "UPDATE reversals SET state = 'done', response_code = ?, done_at = ? WHERE id = ?",
                (response_code, now, reversal_id),
            )
            db.execute(
                "UPDATE transactions SET status = ?, updated_at = ? WHERE id = ?",
                (Status.REVERSED.value, now, row[0]),
            )

    def advice_attempted(self, advice_id: int) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE advices SET attempts = attempts + 1, last_attempt_at = ? WHERE id = ?",
                (self._now(), advice_id),
            )

    def advice_acknowledged(self, advice_id: int, response_code: str, rrn: str | None) -> None:
        """0230 received (94 = host already has it): the advice is done."""
        now = self._now()
        with self._write() as db:
            row = db.execute(
                "SELECT txn_id FROM advices WHERE id = ? AND state = 'queued'", (advice_id,)
            ).fetchone()
            if row is None:
                return
            db.execute(
                "UPDATE advices SET state = 'done', response_code = ?, done_at = ? WHERE id = ?",
                (response_code, now, advice_id),
            )
            if rrn:
                db.execute(
                    "UPDATE transactions SET rrn = coalesce(rrn, ?) WHERE id = ?", (rrn, row[0])
                )

    def advice_response(self, txn_id: int) -> str | None:
        """The host's DE 39 on the acknowledged 0230 of a transaction's advice (``00``,
        ``25`` for a completion the host could not match, ``94`` …), or None while the
        advice is queued or when the transaction has none. Read-only."""
        row = self._db.execute(
            "SELECT response_code FROM advices WHERE txn_id = ? AND state = 'done'"
            " ORDER BY id DESC LIMIT 1",
            (txn_id,),
        ).fetchone()
        return None if row is None else row[0]

    def reversal_pending(self) -> bool:
        return (
            self._db.execute("SELECT 1 FROM reversals WHERE state = 'queued' LIMIT 1").fetchone()
            is not None
        )

    # ------------------------------------------------------------------ reading

    def transaction(self, txn_id: int) -> Transaction:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM transactions WHERE id = ?",  # noqa: S608 - constant
            (txn_id,),
        )
        found = row.fetchone()
        if found is None:
            raise JournalError(f"no transaction {txn_id}")
        return _row(found)

    def pan(self, txn_id: int) -> str | None:
        """The full PAN (decrypted) for building DE 2 of a reversal / advice / upload."""
        row = self._db.execute(
            "SELECT pan_enc FROM transactions WHERE id = ?", (txn_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return self._pan_cipher().decrypt(bytes(row[0]))

    def transactions(self) -> Iterator[Transaction]:
        for found in self._db.execute(
            f"SELECT {_COLUMNS} FROM transactions ORDER BY id"  # noqa: S608 - constant
        ):
            yield _row(found)

    def search(
        self,
        *,
        merchant: str | None = None,
        txn_type: TxnType | str | None = None,
        status: Status | str | None = None,
        stan: str | None = None,
        rrn: str | None = None,
        auth_code: str | None = None,
        pan_last4: str | None = None,
        batch: int | None = None,
        since: float | None = None,
        until: float | None = None,
        amount: int | None = None,
        limit: int = 1000,
    ) -> list[Transaction]:
        """Transaction history search (settlement reports, void/completion look-up)."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("merchant", merchant),
            ("type", None if txn_type is None else TxnType(txn_type).value),
            ("status", None if status is None else Status(status).value),
            ("stan", stan),
            ("rrn", rrn),
            ("auth_code", auth_code),
            ("batch", batch),
            ("amount", amount),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if pan_last4 is not None:
            clauses.append("substr(pan_masked, -4) = ?")
            args.append(pan_last4)
        if since is not None:
            clauses.append("created_at >= ?")
            args.append(since)
        if until is not None:
            clauses.append("created_at < ?")
            args.append(until)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        args.append(limit)
        return [
            _row(r)
            for r in self._db.execute(
                f"SELECT {_COLUMNS} FROM transactions{where} ORDER BY id DESC LIMIT ?",  # noqa: S608
                args,
            )
        ]

    def last_transaction(self, merchant: str | None = None) -> Transaction | None:
        found = self.search(merchant=merchant, limit=1)
        return found[0] if found else None

    def batch_transactions(self, tid: str, mid: str, batch: int | None = None) -> list[Transaction]:
        """Every transaction of the (open) batch, oldest first."""
        number = self.current_batch(tid, mid) if batch is None else batch
        return [
            _row(r)
            for r in self._db.execute(
                f"SELECT {_COLUMNS} FROM transactions WHERE tid = ? AND mid = ? AND batch = ?"  # noqa: S608
                " AND settled = 0 ORDER BY id",
                (tid, mid, number),
            )
        ]

    def batch_totals(
        self, tid: str, mid: str, batch: int | None = None
    ) -> tuple[Totals, dict[str, Totals]]:
        """Totals of the open batch, overall and per card scheme (host-spec DE 74–88).

        Approved sales, completions and top-ups are debits, approved refunds credits; a
        voided transaction (and the void itself) counts in neither; pre-authorisations and
        balance inquiries move no money.
        """
        total = Totals()
        per_scheme: dict[str, Totals] = {}
        for txn in self.batch_transactions(tid, mid, batch):
            if txn.status is not Status.APPROVED:
                continue
            if txn.type not in DEBIT_TYPES and txn.type not in CREDIT_TYPES:
                continue
            total = total.add(txn.type, txn.amount)
            scheme = txn.scheme or "other"
            per_scheme[scheme] = per_scheme.get(scheme, Totals()).add(txn.type, txn.amount)
        return total, per_scheme

    # ------------------------------------------------------------------ settlement

    def begin_settlement(
        self,
        tid: str,
        mid: str,
        merchant: str,
        totals: Mapping[str, Any],
        operator: str | None = None,
    ) -> int:
        """Write-ahead record of a settlement attempt, committed BEFORE the 0500 leaves:
        from now on a crash means "finish this settlement at boot" (the host may have
        closed the batch). An attempt still open for the same batch is reused."""
        now = self._now()
        with self._write() as db:
            batch = self._peek(f"batch:{tid}:{mid}", 1)
            row = db.execute(
                "SELECT id FROM settlements WHERE tid = ? AND mid = ? AND batch = ?"
                " AND state IN ('requested', 'uploading') ORDER BY id DESC LIMIT 1",
                (tid, mid, batch),
            ).fetchone()
            blob = cbor2.dumps(dict(totals))
            if row is not None:
                db.execute(
                    "UPDATE settlements SET state = 'requested', totals = ?, uploaded = 0,"
                    " operator = coalesce(?, operator), updated_at = ? WHERE id = ?",
                    (blob, operator, now, row[0]),
                )
                return int(row[0])
            cursor = db.execute(
                "INSERT INTO settlements (tid, mid, merchant, batch, totals, state, operator,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'requested', ?, ?, ?)",
                (tid, mid, merchant, batch, blob, operator, now, now),
            )
            return int(cursor.lastrowid or 0)

    def settlement_uploading(self, settlement_id: int, uploaded: int) -> None:
        """The host answered 95: the 0320 uploads are under way (``uploaded`` so far)."""
        with self._write() as db:
            db.execute(
                "UPDATE settlements SET state = 'uploading', uploaded = ?, response_code = '95',"
                " updated_at = ? WHERE id = ? AND state IN ('requested', 'uploading')",
                (uploaded, self._now(), settlement_id),
            )

    def settlement_failed(self, settlement_id: int, response_code: str) -> None:
        """The host refused the close with a valid answer: its batch is open too, so
        there is nothing to finish at boot."""
        with self._write() as db:
            db.execute(
                "UPDATE settlements SET state = 'failed', response_code = ?, updated_at = ?"
                " WHERE id = ? AND state IN ('requested', 'uploading')",
                (response_code, self._now(), settlement_id),
            )

    def open_settlements(self) -> list[OpenSettlement]:
        """Settlement attempts interrupted (crash, no valid response) before the batch
        closed locally, oldest first: boot recovery finishes them before new business."""
        return [
            OpenSettlement(*r)
            for r in self._db.execute(
                "SELECT id, tid, mid, merchant, batch, state, uploaded FROM settlements"
                " WHERE state IN ('requested', 'uploading') ORDER BY id"
            )
        ]

    def close_batch(
        self,
        tid: str,
        mid: str,
        merchant: str,
        totals: Mapping[str, Any],
        uploaded: int,
        settlement_id: int | None = None,
    ) -> int:
        """The host accepted the batch (0510 00): mark its rows settled, record it,
        increment the batch number and mark the settlement attempt closed, all in one
        commit (so "closed at the host" and "closed here" have no window between them).
        Returns the closed number."""
        now = self._now()
        name = f"batch:{tid}:{mid}"
        with self._write() as db:
            number = self._peek(name, 1)
            db.execute(
                "UPDATE settlements SET state = 'closed', response_code = '00', uploaded = ?,"
                " updated_at = ? WHERE (tid = ? AND mid = ? AND batch = ?"
                " AND state IN ('requested', 'uploading')) OR id = ?",
                (uploaded, now, tid, mid, number, -1 if settlement_id is None else settlement_id),
            )
            db.execute(
                "UPDATE transactions SET settled = 1 WHERE tid = ? AND mid = ? AND batch = ?",
                (tid, mid, number),
            )
            db.execute(
                "INSERT INTO batches (tid, mid, number, merchant, totals, uploaded, closed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tid, mid, number, merchant, cbor2.dumps(dict(totals)), uploaded, now),
            )
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, number % BATCH_MAX + 1),
            )
            self._audit(db, None, "batch closed", {"tid": tid, "batch": number}, now)
        return number

    def closed_batches(self, tid: str, mid: str) -> list[dict[str, Any]]:
        return [
            {"batch": r[0], "totals": cbor2.loads(r[1]), "uploaded": r[2], "closed_at": r[3]}
            for r in self._db.execute(
                "SELECT number, totals, uploaded, closed_at FROM batches"
                " WHERE tid = ? AND mid = ? ORDER BY closed_at",
                (tid, mid),
            )
        ]

    # ------------------------------------------------------------------ retention & audit

    def purge(self, retention_days: int) -> int:
        """Delete settled transactions (and their finished queue rows) of batches closed
        more than ``retention_days`` ago, and audit entries as old. Returns rows deleted."""
        cutoff = self._now() - retention_days * 86400.0
        with self._write() as db:
            old = [
                r[0]
                for r in db.execute(
                    "SELECT t.id FROM transactions t JOIN batches b ON b.tid = t.tid"
                    " AND b.mid = t.mid AND b.number = t.batch"
                    " WHERE t.settled = 1 AND b.closed_at < ?"
                    " AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.txn_id = t.id"
                    "   AND r.state IN ('armed', 'queued'))"
                    " AND NOT EXISTS (SELECT 1 FROM advices a WHERE a.txn_id = t.id"
                    "   AND a.state = 'queued')",
                    (cutoff,),
                )
            ]
            for txn_id in old:
                db.execute("DELETE FROM reversals WHERE txn_id = ?", (txn_id,))
                db.execute("DELETE FROM advices WHERE txn_id = ?", (txn_id,))
            deleted = 0
            for txn_id in old:
                # A row that points at this one (a void at its original) lets go first.
                db.execute(
                    "UPDATE transactions SET original_id = NULL WHERE original_id = ?", (txn_id,)
                )
                deleted += db.execute("DELETE FROM transactions WHERE id = ?", (txn_id,)).rowcount
            db.execute("DELETE FROM audit WHERE at < ?", (cutoff,))
            db.execute("DELETE FROM batches WHERE closed_at < ?", (cutoff,))
            db.execute(
                "DELETE FROM settlements WHERE state IN ('closed', 'failed') AND updated_at < ?",
                (cutoff,),
            )
            if deleted:
                self._audit(db, None, "purge", {"transactions": deleted}, self._now())
        return deleted

    def audit(self, actor: str | None, event: str, detail: Mapping[str, Any] | None = None) -> None:
        """Append to the audit trail (operator log-ins, settlements, config changes)."""
        with self._write() as db:
            self._audit(db, actor, event, detail or {}, self._now())

    def _audit(
        self,
        db: sqlite3.Connection,
        actor: str | None,
        event: str,
        detail: Mapping[str, Any],
        now: float,
    ) -> None:
        db.execute(
            "INSERT INTO audit (at, actor, event, detail) VALUES (?, ?, ?, ?)",
            (now, actor, event, cbor2.dumps(dict(detail))),
        )

    def audit_trail(self, limit: int = 1000) -> list[dict[str, Any]]:
        return [
            {"at": r[0], "actor": r[1], "event": r[2], "detail": cbor2.loads(r[3])}
            for r in self._db.execute(
                "SELECT at, actor, event, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
            )
        ]

    # ------------------------------------------------------------------ operators (storage)

    def operator(self, operator_id: str) -> Operator | None:
        row = self._db.execute(
            "SELECT id, role, hash, salt, params, failures, locked_until, created_at, created_by"
            " FROM operators WHERE id = ?",
            (operator_id,),
        ).fetchone()
        return None if row is None else Operator(*row)

    def operator_roles(self) -> list[tuple[str, str]]:
        """(id, role) of every operator, by id (``posterm operator list``; no hashes)."""
        return [
            (str(r[0]), str(r[1]))
            for r in self._db.execute("SELECT id, role FROM operators ORDER BY id")
        ]

    def operator_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM operators").fetchone()[0])

    def insert_operator(self, op: Operator, *, first_must_be: str | None = None) -> None:
        """Add an operator; with ``first_must_be`` the emptiness check and the insert are
        one transaction, so two concurrent 'first admin' commands cannot both win."""
        with self._write() as db:
            count = db.execute("SELECT count(*) FROM operators").fetchone()[0]
            if count == 0 and first_must_be is not None and op.role != first_must_be:
                raise JournalError(f"the first operator must be {first_must_be}")
            db.execute(
                "INSERT INTO operators (id, role, hash, salt, params, failures, locked_until,"
                " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    op.id,
                    op.role,
                    op.hash,
                    op.salt,
                    op.params,
                    op.failures,
                    op.locked_until,
                    op.created_at,
                    op.created_by,
                ),
            )
            self._audit(
                db, op.created_by, "operator added", {"id": op.id, "role": op.role}, op.created_at
            )

    def update_operator_failures(
        self, operator_id: str, failures: int, locked_until: float
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE operators SET failures = ?, locked_until = ? WHERE id = ?",
                (failures, locked_until, operator_id),
            )

    def remove_operator(self, operator_id: str, actor: str | None) -> None:
        with self._write() as db:
            db.execute("DELETE FROM operators WHERE id = ?", (operator_id,))
            self._audit(db, actor, "operator removed", {"id": operator_id}, self._now())

    def integrity_ok(self) -> bool:
        return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


_COLUMNS = (
    "id, merchant, tid, mid, batch, type, amount, currency, status, stan, mti,"
    " local_datetime, rrn, auth_code, response_code, entry_mode, scheme, pan_masked,"
    " original_id, offline, operator, reason, request, response, emv, extra, settled,"
    " created_at, updated_at, pan_enc IS NOT NULL"
)


def _row(r: tuple[Any, ...]) -> Transaction:
    return Transaction(
        id=r[0],
        merchant=r[1],
        tid=r[2],
        mid=r[3],
        batch=r[4],
        type=TxnType(r[5]),
        amount=r[6],
        currency=r[7],
        status=Status(r[8]),
        stan=r[9],
        mti=r[10],
        local_datetime=r[11],
        rrn=r[12],
        auth_code=r[13],
        response_code=r[14],
        entry_mode=r[15],
        scheme=r[16],
        pan_masked=r[17],
        original_id=r[18],
        offline=bool(r[19]),
        operator=r[20],
        reason=r[21],
        request=_fields(r[22]),
        response=_fields(r[23]),
        emv=dict(cbor2.loads(r[24])) if r[24] else {},
        extra=dict(cbor2.loads(r[25])) if r[25] else {},
        settled=bool(r[26]),
        created_at=r[27],
        updated_at=r[28],
        has_pan=bool(r[29]),
    )


def _fields(blob: bytes | None) -> Fields:
    return dict(cbor2.loads(blob)) if blob else {}


def _text(value: str | bytes | None) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else value.hex().upper()
