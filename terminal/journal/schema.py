"""Journal schema and its migrations, versioned by SQLite's ``user_version``.

A migration is appended, never edited: a handset in the field upgrades by running every
step above its ``user_version``, each in one transaction with the version bump.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,          -- 'stan', 'batch:<tid>:<mid>'
        value INTEGER NOT NULL
    );
    CREATE TABLE transactions (
        id INTEGER PRIMARY KEY,
        merchant TEXT NOT NULL,         -- profile name at the time
        tid TEXT NOT NULL,
        mid TEXT NOT NULL,
        batch INTEGER NOT NULL,
        type TEXT NOT NULL,             -- sale, refund, void, preauth, completion, balance, topup
        amount INTEGER NOT NULL,        -- minor units
        currency TEXT NOT NULL,         -- ISO 4217 numeric, 3 digits
        status TEXT NOT NULL,           -- see records.Status
        stan TEXT NOT NULL,
        mti TEXT,                       -- request MTI (0100/0200/0220), NULL when never sent
        local_datetime TEXT NOT NULL,   -- MMDDhhmmss of DE 13 + DE 12 (for DE 90)
        rrn TEXT,
        auth_code TEXT,
        response_code TEXT,
        entry_mode TEXT,                -- DE 22
        scheme TEXT,                    -- card scheme for per-scheme totals
        pan_masked TEXT,
        pan_enc BLOB,                   -- AES-GCM under the data key
        original_id INTEGER REFERENCES transactions(id),
        offline INTEGER NOT NULL DEFAULT 0,
        operator TEXT,
        reason TEXT,
        request BLOB,                   -- CBOR {DE: value}, scrubbed
        response BLOB,                  -- CBOR {DE: value}
        emv BLOB,                       -- CBOR {tag: value}, scrubbed
        extra BLOB,                     -- CBOR, the flows' own data (receipt fields …)
        settled INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX transactions_batch ON transactions (tid, mid, batch, settled);
    CREATE INDEX transactions_rrn ON transactions (rrn);
    CREATE INDEX transactions_stan ON transactions (stan);
    CREATE TABLE reversals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,   -- send order
        txn_id INTEGER NOT NULL REFERENCES transactions(id),
        state TEXT NOT NULL,            -- armed, queued, done, cancelled
        stan TEXT,                      -- the reversal's own STAN, given when queued
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        response_code TEXT,
        created_at REAL NOT NULL,
        queued_at REAL,
        last_attempt_at REAL,
        done_at REAL
    );
    CREATE INDEX reversals_state ON reversals (state, id);
    CREATE TABLE advices (
        id INTEGER PRIMARY KEY AUTOINCREMENT,   -- send order = the order they happened
        txn_id INTEGER NOT NULL REFERENCES transactions(id),
        kind TEXT NOT NULL,             -- offline, completion
        state TEXT NOT NULL,            -- queued, done
        fields BLOB NOT NULL,           -- CBOR {DE: value}, scrubbed, without KS/MAC
        attempts INTEGER NOT NULL DEFAULT 0,
        response_code TEXT,
        created_at REAL NOT NULL,
        last_attempt_at REAL,
        done_at REAL
    );
    CREATE INDEX advices_state ON advices (state, id);
    CREATE TABLE batches (
        tid TEXT NOT NULL,
        mid TEXT NOT NULL,
        number INTEGER NOT NULL,
        merchant TEXT NOT NULL,
        totals BLOB NOT NULL,           -- CBOR of the totals sent in the 0500
        uploaded INTEGER NOT NULL,      -- 0320s sent in the close
        closed_at REAL NOT NULL,
        PRIMARY KEY (tid, mid, number, closed_at)
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT,
        event TEXT NOT NULL,
        detail BLOB                     -- CBOR, never a secret
    );
    CREATE TABLE operators (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        hash BLOB NOT NULL,             -- scrypt
        salt BLOB NOT NULL,
        params TEXT NOT NULL,           -- 'n=16384,r=8,p=1'
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        created_by TEXT
    );
    """,
    # 2: write-ahead record of each settlement attempt (a crash between the host's
    # 0510 00 and the local batch close must be finished at boot, not forgotten).
    """
    CREATE TABLE settlements (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tid TEXT NOT NULL,
        mid TEXT NOT NULL,
        merchant TEXT NOT NULL,
        batch INTEGER NOT NULL,
        totals BLOB NOT NULL,           -- CBOR of the totals the 0500 carries
        state TEXT NOT NULL,            -- requested, uploading, closed, failed
        uploaded INTEGER NOT NULL DEFAULT 0,
        response_code TEXT,
        operator TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX settlements_state ON settlements (state, id);
    """,
)


SCHEMA_VERSION = len(MIGRATIONS)
