"""The host's durable ledger (SQLite, WAL, synchronous=FULL).

Every request and response, each transaction's state, balances, vouchers, uploads and
settlements. PANs are stored only masked and as a keyed hash (HMAC-SHA256 under a random
per-ledger salt): no full PAN, PIN block, PIN or track data at rest.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyemv import tlv as pyemv_tlv

log = logging.getLogger("sim.host.ledger")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, direction TEXT NOT NULL, conn INTEGER,
    tid TEXT, mti TEXT, stan TEXT, rc TEXT, fields TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS txns (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, tid TEXT NOT NULL, mid TEXT, batch TEXT NOT NULL,
    stan TEXT NOT NULL, mti TEXT NOT NULL, pcode TEXT NOT NULL, kind TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT, pan_token TEXT, pan_masked TEXT,
    instrument TEXT, rrn TEXT UNIQUE, auth_code TEXT, rc TEXT NOT NULL, state TEXT NOT NULL,
    original_id INTEGER, note TEXT, balance_delta INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS txns_term ON txns (tid, batch, stan);
CREATE INDEX IF NOT EXISTS txns_pan ON txns (pan_token);
CREATE TABLE IF NOT EXISTS stans (
    tid TEXT NOT NULL, batch TEXT NOT NULL, stan TEXT NOT NULL, mti TEXT NOT NULL,
    PRIMARY KEY (tid, batch, stan));
CREATE TABLE IF NOT EXISTS batches (
    tid TEXT NOT NULL, batch TEXT NOT NULL, state TEXT NOT NULL, closed_at TEXT,
    PRIMARY KEY (tid, batch));
CREATE TABLE IF NOT EXISTS balances (pan_token TEXT PRIMARY KEY, balance INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS vouchers (code_token TEXT PRIMARY KEY, txn_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY, tid TEXT NOT NULL, batch TEXT NOT NULL, stan TEXT NOT NULL,
    pcode TEXT NOT NULL, amount INTEGER NOT NULL, rrn TEXT, auth_code TEXT, matched_id INTEGER);
CREATE TABLE IF NOT EXISTS settlements (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, tid TEXT NOT NULL, batch TEXT NOT NULL,
    pcode TEXT NOT NULL, terminal_totals TEXT NOT NULL, host_totals TEXT NOT NULL,
    rc TEXT NOT NULL, note TEXT);
"""

# Fields never written to the ledger as they came: PAN (masked instead), track 2, PIN block.
_DROP = {"35", "52", "64", "128", "p", "1"}
# ICC tags that carry PAN, track or cardholder data (EMV 4.4 Book 3, Annex A).
_ICC_SECRET_TAGS = {"5A", "57", "56", "5F20", "9F1F", "9F20", "9F6B"}

# States in which a transaction counts (host-spec DE 74-88: a void counts in neither).
EFFECTIVE = ("authorised", "advised", "completed")
DEBIT_KINDS = ("sale", "completion", "topup", "offline")
CREDIT_KINDS = ("refund",)


def mask_pan(pan: str) -> str:
    """First 6 and last 4 digits at most (PCI DSS 3.4 display rule)."""
    if len(pan) < 10:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


@dataclass(frozen=True, slots=True)
class Txn:
    id: int
    at: str
    tid: str
    mid: str | None
    batch: str
    stan: str
    mti: str
    pcode: str
    kind: str
    amount: int
    currency: str | None
    pan_masked: str | None
    instrument: str | None
    rrn: str | None
    auth_code: str | None
    rc: str
    state: str
    original_id: int | None
    note: str | None
    balance_delta: int
    pan_token: str | None


@dataclass(frozen=True, slots=True)
class Totals:
    """Reconciliation totals: counts and amounts of credits and debits (DE 74/76/86/88)."""

    credits: int = 0
    debits: int = 0
    credit_amount: int = 0
    debit_amount: int = 0

    def as_json(self) -> str:
        return json.dumps([self.credits, self.debits, self.credit_amount, self.debit_amount])


_TXN_COLS = (
    "id, at, tid, mid, batch, stan, mti, pcode, kind, amount, currency, pan_masked, "
    "instrument, rrn, auth_code, rc, state, original_id, note, balance_delta, pan_token"
)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


def safe_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """A copy of decoded fields fit for storage: masked PAN, no track/PIN/MAC."""
    out = {k: v for k, v in fields.items() if k not in _DROP}
    if "2" in out:
        out["2"] = mask_pan(out["2"])
    if "55" in out:
        try:
            icc = pyemv_tlv.decode(bytes.fromhex(out["55"]), flatten=True)
            out["55"] = json.dumps(
                {
                    t: v.hex().upper()
                    for t, v in icc.items()
                    if t.upper() not in _ICC_SECRET_TAGS and isinstance(v, bytes | bytearray)
                }
            )
        except (ValueError, TypeError, KeyError):
            out["55"] = "<undecodable>"
    if "48" in out:
        out["48"] = "<private sub-elements>"  # may hold voucher/QR codes
    if "52" in fields:
        out["52"] = "<present>"
    return out


class Ledger:
    """SQLite ledger; thread-safe through one lock, one connection.

    The host runs each request inside ``transaction()`` so checks and writes are atomic
    and committed (fsync'd) before the response leaves.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self.lock = threading.RLock()
        row = self._db.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('salt', ?)", (os.urandom(16).hex(),))
            row = self._db.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        self._salt = bytes.fromhex(row[0])
        self._depth = 0
        self._failed: set[int] = set()  # group commits that did not reach the disk
        self._grouped = False  # a group() owner commits; transaction() does not wait
        self._open = False  # a shared write transaction is open, awaiting the committer
        self._batch = 1  # number of the group commit now being filled
        self._committed = 0
        self._wanted = False
        self._closed = False
        self._commit_cond = threading.Condition()
        self._sequences: dict[str, int] = {}
        self._committer: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Ledger({self.path!r})"

    def close(self) -> None:
        with self.lock:
            if self._open:
                self._db.execute("COMMIT")
                self._open = False
                self._committed = self._batch
            with self._commit_cond:
                self._closed = True
                self._commit_cond.notify_all()
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ---

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """Atomic and durable unit of work (one request).

        The work runs under a SAVEPOINT inside a shared write transaction; on leaving,
        the caller waits until a background committer has COMMITted it (group commit:
        one fsync covers every request that arrived during the previous fsync). So the
        response never leaves before its ledger rows are on disk. Inside ``group()`` the
        wait is left to the group's owner, which commits once for the whole group.
        """
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._begin()
            self._db.execute("SAVEPOINT request")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._db.execute("ROLLBACK TO request")
                self._db.execute("RELEASE request")
                raise
            else:
                self._db.execute("RELEASE request")
            finally:
                self._depth = 0
            if self._grouped:
                return
            ticket = self._batch
        self._await_commit(ticket)

    @contextmanager
    def group(self) -> Iterator[Ledger]:
        """Run several ``transaction()``s and commit them with one fsync on leaving.

        For a single thread that serves many requests (sim.host.worker): it holds the
        ledger for the whole group, each request still rolls back alone, and nothing in
        the group may be answered before this returns. A failing COMMIT raises here.
        """
        with self.lock:
            if self._grouped:
                raise RuntimeError("ledger groups do not nest")
            self._grouped = True
            try:
                yield self
            finally:
                self._grouped = False
                if self._open:
                    self._commit_now()

    def _begin(self) -> None:
        if not self._open:
            self._db.execute("BEGIN IMMEDIATE")
            self._open = True

    def _commit_now(self) -> None:
        """COMMIT the shared transaction (caller holds ``lock``) and release its waiters."""
        done = self._batch
        self._batch += 1
        self._open = False
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._failed.add(done)
            raise
        finally:
            with self._commit_cond:
                self._committed = done
                self._commit_cond.notify_all()

    def _await_commit(self, ticket: int) -> None:
        with self._commit_cond:
            if self._committer is None:
                self._committer = threading.Thread(
                    target=self._commit_loop, name="ledger-commit", daemon=True
                )
                self._committer.start()
            self._wanted = True
            self._commit_cond.notify_all()
            while self._committed < ticket and not self._closed:
                self._commit_cond.wait(1.0)
            if ticket in self._failed:
                raise sqlite3.OperationalError("ledger commit failed: the request was not stored")

    def _commit_loop(self) -> None:
        while True:
            with self._commit_cond:
                while not self._wanted and not self._closed:
                    self._commit_cond.wait(1.0)
                if self._closed:
                    return
                self._wanted = False
            with self.lock:
                if not self._open:
                    continue
                try:
                    self._commit_now()
                except sqlite3.Error as exc:  # its waiters raise; the committer goes on
                    log.error("ledger commit failed: %s", exc)

    def token(self, secret: str) -> str:
        """Keyed hash used instead of a PAN or a voucher code."""
        return hmac.new(self._salt, secret.encode(), hashlib.sha256).hexdigest()

    def record_message(
        self, direction: str, conn: int, fields: Mapping[str, str], note: str = ""
    ) -> None:
        safe = safe_fields(fields)
        if note:
            safe["note"] = note
        with self.lock:
            self._db.execute(
                "INSERT INTO messages (at, direction, conn, tid, mti, stan, rc, fields)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    _now(),
                    direction,
                    conn,
                    fields.get("41"),
                    fields.get("t"),
                    fields.get("11"),
                    fields.get("39"),
                    json.dumps(safe),
                ),
            )

    def stan_seen(self, tid: str, batch: str, stan: str) -> bool:
        with self.lock:
            row = self._db.execute(
                "SELECT 1 FROM stans WHERE tid=? AND batch=? AND stan=?", (tid, batch, stan)
            ).fetchone()
        return row is not None

    def mark_stan(self, tid: str, batch: str, stan: str, mti: str) -> bool:
        """Record a STAN; False when (TID, batch, STAN) was already there (a duplicate)."""
        with self.lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO stans VALUES (?,?,?,?)", (tid, batch, stan, mti)
            )
            return cur.rowcount == 1

    def open_batch(self, tid: str, announced: str | None) -> str:
        """The batch a message belongs to: DE 48 BN when given, else the open one."""
        with self.lock:
            if announced:
                self._db.execute(
                    "INSERT OR IGNORE INTO batches VALUES (?,?, 'open', NULL)", (tid, announced)
                )
                return announced
            row = self._db.execute(
                "SELECT batch FROM batches WHERE tid=? AND state='open'"
                " ORDER BY batch DESC LIMIT 1",
                (tid,),
            ).fetchone()
            if row:
                return str(row[0])
            last = self._db.execute(
                "SELECT MAX(batch) FROM batches WHERE tid=?", (tid,)
            ).fetchone()[0]
            batch = f"{int(last) % 999999 + 1:06d}" if last else "000001"
            self._db.execute("INSERT INTO batches VALUES (?,?, 'open', NULL)", (tid, batch))
            return batch

    def close_batch(self, tid: str, batch: str) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO batches VALUES (?,?,'closed',?) ON CONFLICT (tid, batch)"
                " DO UPDATE SET state='closed', closed_at=excluded.closed_at",
                (tid, batch, _now()),
            )

    def batch_state(self, tid: str, batch: str) -> str | None:
        with self.lock:
            row = self._db.execute(
                "SELECT state FROM batches WHERE tid=? AND batch=?", (tid, batch)
            ).fetchone()
        return str(row[0]) if row else None

    def next_sequence(self, name: str) -> int:
        """Durable counter (RRN, auth code). Cached in memory: a rolled-back request may
        leave a gap, never a repeat."""
        with self.lock:
            value = self._sequences.get(name)
            if value is None:
                row = self._db.execute("SELECT value FROM meta WHERE key=?", (name,)).fetchone()
                value = int(row[0]) if row else 0
            value += 1
            self._sequences[name] = value
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (name, str(value)))
            return value

    def add_txn(self, **cols: Any) -> int:
        pan = cols.pop("pan", None)
        cols["pan_token"] = self.token(pan) if pan else None
        cols["pan_masked"] = mask_pan(pan) if pan else None
        cols.setdefault("at", _now())
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        with self.lock:
            cur = self._db.execute(
                f"INSERT INTO txns ({names}) VALUES ({marks})",  # noqa: S608 - names are ours
                tuple(cols.values()),
            )
            return int(cur.lastrowid or 0)

    def update_txn(self, txn_id: int, **cols: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in cols)
        with self.lock:
            self._db.execute(
                f"UPDATE txns SET {sets} WHERE id=?",  # noqa: S608 - column names are ours
                (*cols.values(), txn_id),
            )

    def balance(self, pan: str, opening: int) -> int:
        with self.lock:
            row = self._db.execute(
                "SELECT balance FROM balances WHERE pan_token=?", (self.token(pan),)
            ).fetchone()
        return int(row[0]) if row else opening

    def adjust_balance(self, pan: str, opening: int, delta: int) -> int:
        with self.lock:
            value = self.balance(pan, opening) + delta
            self._db.execute(
                "INSERT OR REPLACE INTO balances VALUES (?,?)", (self.token(pan), value)
            )
            return value

    def adjust_balance_token(self, pan_token: str, delta: int) -> None:
        with self.lock:
            self._db.execute(
                "UPDATE balances SET balance = balance + ? WHERE pan_token=?", (delta, pan_token)
            )

    def voucher_redeemed_by(self, code: str) -> int | None:
        with self.lock:
            row = self._db.execute(
                "SELECT txn_id FROM vouchers WHERE code_token=?", (self.token(code),)
            ).fetchone()
        return int(row[0]) if row else None

    def redeem_voucher(self, code: str, txn_id: int) -> None:
        with self.lock:
            self._db.execute("INSERT INTO vouchers VALUES (?,?)", (self.token(code), txn_id))

    def release_voucher(self, txn_id: int) -> None:
        with self.lock:
            self._db.execute("DELETE FROM vouchers WHERE txn_id=?", (txn_id,))

    def add_upload(self, **cols: Any) -> None:
        names = ", ".join(cols)
        with self.lock:
            self._db.execute(
                f"INSERT INTO uploads ({names}) VALUES ({', '.join('?' for _ in cols)})",  # noqa: S608
                tuple(cols.values()),
            )

    def add_settlement(
        self,
        tid: str,
        batch: str,
        pcode: str,
        terminal: Totals,
        host: Totals,
        rc: str,
        note: str = "",
    ) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO settlements (at, tid, batch, pcode, terminal_totals, host_totals, rc,"
                " note) VALUES (?,?,?,?,?,?,?,?)",
                (_now(), tid, batch, pcode, terminal.as_json(), host.as_json(), rc, note),
            )

    # --- reading (the query API tests use) ---

    def _txns(self, where: str, args: tuple[Any, ...]) -> list[Txn]:
        with self.lock:
            rows = self._db.execute(
                f"SELECT {_TXN_COLS} FROM txns WHERE {where} ORDER BY id",  # noqa: S608
                args,
            ).fetchall()
        return [Txn(*row) for row in rows]

    def _filter(
        self, pan: str | None, stan: str | None, tid: str | None, batch: str | None
    ) -> tuple[str, tuple[Any, ...]]:
        clauses, args = ["1=1"], []
        if pan is not None:
            clauses.append("pan_token=?")
            args.append(self.token(pan))
        if stan is not None:
            clauses.append("stan=?")
            args.append(stan)
        if tid is not None:
            clauses.append("tid=?")
            args.append(tid)
        if batch is not None:
            clauses.append("batch=?")
            args.append(batch)
        return " AND ".join(clauses), tuple(args)

    def transactions(
        self,
        pan: str | None = None,
        stan: str | None = None,
        tid: str | None = None,
        batch: str | None = None,
    ) -> list[Txn]:
        where, args = self._filter(pan, stan, tid, batch)
        return self._txns(where, args)

    def txn(self, txn_id: int) -> Txn | None:
        found = self._txns("id=?", (txn_id,))
        return found[0] if found else None

    def find_original(self, tid: str, stan: str, mti: str | None = None) -> Txn | None:
        where, args = "tid=? AND stan=?", [tid, stan]
        if mti:
            where += " AND mti=?"
            args.append(mti)
        found = self._txns(where, tuple(args))
        return found[-1] if found else None

    def find_by_rrn(self, tid: str, rrn: str) -> Txn | None:
        found = self._txns("tid=? AND rrn=?", (tid, rrn))
        return found[-1] if found else None

    def charges(
        self,
        pan: str | None = None,
        stan: str | None = None,
        tid: str | None = None,
        batch: str | None = None,
    ) -> list[Txn]:
        """Debits that stand: sales, completions, top-ups, offline sales; not voided/reversed."""
        return self._standing(DEBIT_KINDS, pan, stan, tid, batch)

    def credits(
        self,
        pan: str | None = None,
        stan: str | None = None,
        tid: str | None = None,
        batch: str | None = None,
    ) -> list[Txn]:
        """Refunds that stand."""
        return self._standing(CREDIT_KINDS, pan, stan, tid, batch)

    def _standing(
        self,
        kinds: tuple[str, ...],
        pan: str | None,
        stan: str | None,
        tid: str | None,
        batch: str | None,
    ) -> list[Txn]:
        where, args = self._filter(pan, stan, tid, batch)
        kind_list = ",".join(f"'{k}'" for k in kinds)
        states = ",".join(f"'{s}'" for s in EFFECTIVE)
        return self._txns(f"{where} AND kind IN ({kind_list}) AND state IN ({states})", args)

    def net_amount(
        self, pan: str | None = None, tid: str | None = None, batch: str | None = None
    ) -> int:
        """What the cardholder (or terminal) stands charged: debits minus credits."""
        debit = sum(t.amount for t in self.charges(pan=pan, tid=tid, batch=batch))
        credit = sum(t.amount for t in self.credits(pan=pan, tid=tid, batch=batch))
        return debit - credit

    def totals(self, tid: str, batch: str) -> Totals:
        """The host's own reconciliation totals for one terminal batch."""
        debits = self.charges(tid=tid, batch=batch)
        credits = self.credits(tid=tid, batch=batch)
        return Totals(
            credits=len(credits),
            debits=len(debits),
            credit_amount=sum(t.amount for t in credits),
            debit_amount=sum(t.amount for t in debits),
        )

    def messages(self, tid: str | None = None, mti: str | None = None) -> list[dict[str, Any]]:
        clauses, args = ["1=1"], []
        if tid is not None:
            clauses.append("tid=?")
            args.append(tid)
        if mti is not None:
            clauses.append("mti=?")
            args.append(mti)
        with self.lock:
            rows = self._db.execute(
                "SELECT id, at, direction, conn, tid, mti, stan, rc, fields FROM messages"  # noqa: S608
                f" WHERE {' AND '.join(clauses)} ORDER BY id",
                tuple(args),
            ).fetchall()
        keys = ("id", "at", "direction", "conn", "tid", "mti", "stan", "rc", "fields")
        return [dict(zip(keys, row, strict=True)) | {"fields": json.loads(row[8])} for row in rows]

    def settlements(self, tid: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT tid, batch, pcode, terminal_totals, host_totals, rc, note FROM settlements"
                " WHERE ?1 IS NULL OR tid=?1 ORDER BY id",
                (tid,),
            ).fetchall()
        return [
            {
                "tid": r[0],
                "batch": r[1],
                "pcode": r[2],
                "terminal": Totals(*json.loads(r[3])),
                "host": Totals(*json.loads(r[4])),
                "rc": r[5],
                "note": r[6],
            }
            for r in rows
        ]

    def uploads(self, tid: str, batch: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT stan, pcode, amount, rrn, auth_code, matched_id FROM uploads"
                " WHERE tid=? AND batch=? ORDER BY id",
                (tid, batch),
            ).fetchall()
        keys = ("stan", "pcode", "amount", "rrn", "auth_code", "matched_id")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def current_balance(self, pan: str) -> int | None:
        with self.lock:
            row = self._db.execute(
                "SELECT balance FROM balances WHERE pan_token=?", (self.token(pan),)
            ).fetchone()
        return int(row[0]) if row else None

    def integrity_check(self) -> str:
        with self.lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
