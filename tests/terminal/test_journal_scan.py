"""A scan of the journal files (db, WAL, SHM) for test PANs, PINs, track data and keys
finds none, whatever the flows hand the journal."""

from __future__ import annotations

from pathlib import Path

from emv import tlv
from terminal.journal import Journal, NewTransaction, TxnType
from tests.terminal.hostpeer import BDK, IPEK

PAN = "4761739001010010"
TRACK2 = "4761739001010010=2512201123456789"
PIN_BLOCK = bytes.fromhex("041274EDCBA9876F")
DATA_KEY = bytes(range(100, 132))


def needles() -> dict[str, bytes]:
    return {
        "PAN ascii": PAN.encode(),
        "PAN bcd": bytes.fromhex(PAN),
        "track2 ascii": TRACK2.encode(),
        "track2 bcd": bytes.fromhex(TRACK2.replace("=", "D") + "F"),
        "PIN block": PIN_BLOCK,
        "PIN": b"1234",
        "data key": DATA_KEY,
        "BDK": BDK,
        "IPEK": IPEK,
    }


def test_no_secret_in_journal_files(tmp_path: Path) -> None:
    icc = tlv.encode(
        [
            tlv.Tlv(0x9F26, bytes(8)),
            tlv.Tlv(0x57, bytes.fromhex(TRACK2.replace("=", "D") + "F")),
            tlv.Tlv(0x5A, bytes.fromhex(PAN)),
        ]
    )
    with Journal(tmp_path / "journal.db", data_key=DATA_KEY) as journal:
        txn = journal.create_transaction(
            NewTransaction(
                "Main",
                "TERM0001",
                "MERCHANT0000001",
                TxnType.SALE,
                1000,
                "826",
                "1125093015",
                pan=PAN,
                emv={
                    0x5A: bytes.fromhex(PAN),
                    0x9F26: bytes(8),
                    0x57: bytes.fromhex(TRACK2.replace("=", "D") + "F"),
                },
            ),
            mti="0200",
            request={2: PAN, 3: "000000", 35: TRACK2, 52: PIN_BLOCK, 55: icc, 64: bytes(8)},
            arm_reversal=True,
        )
        journal.record_response(txn.id, approved=True, fields={39: "00", 55: icc})
        journal.complete_offline(
            journal.create_transaction(
                NewTransaction(
                    "Main",
                    "TERM0001",
                    "MERCHANT0000001",
                    TxnType.SALE,
                    5,
                    "826",
                    "1125093015",
                    pan=PAN,
                    offline=True,
                )
            ).id,
            approved=True,
            advice={2: PAN, 35: TRACK2, 52: PIN_BLOCK, 55: icc},
        )
        assert journal.pan(txn.id) == PAN  # still recoverable with the key
        journal.audit("op", "note", {"free": "text"})
        files = [p for p in tmp_path.iterdir() if p.is_file()]
        assert any(p.name.endswith("-wal") for p in files)  # scanned while the WAL is live
        for path in files:
            blob = path.read_bytes()
            for name, needle in needles().items():
                if name == "PIN":
                    continue  # 4 digits occur by chance in binary data; the block is checked
                assert needle not in blob, f"{name} found in {path.name}"
