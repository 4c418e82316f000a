"""No secret at rest or in output: after chip sales with online PIN, a refund, a
no-response reversal and a settlement, every file of the terminal's data dir (journal
and its WAL, receipts, key store), the commands' stdout/stderr and `posterm journal`
are scanned for the test PIN, the full PAN (ASCII and BCD), track 2 and key bytes."""

from __future__ import annotations

import os
from pathlib import Path

from keys import dukpt
from sim.demo import BDK, KSN, demo_rules
from tests.e2e.rigproc import host_process, posterm, provision

PAN = "4761739001010044"
PIN = "73914682"  # distinctive, so a hit is never a coincidence


def needles(kbpk_hex: str) -> dict[str, bytes]:
    ipek = dukpt.derive_ipek(BDK, bytes.fromhex(KSN))
    found = {
        "pin ascii": PIN.encode(),
        "pan ascii": PAN.encode(),
        "pan bcd": bytes.fromhex(PAN),
        "track2 ascii": f"{PAN}=".encode(),
        "track2 bcd": bytes.fromhex(PAN + "D3"),
        "bdk": BDK,
        "bdk hex": BDK.hex().upper().encode(),
        "ipek": ipek,
        "ipek hex": ipek.hex().upper().encode(),
        "kbpk": bytes.fromhex(kbpk_hex),
        "kbpk hex": kbpk_hex.upper().encode(),
    }
    return found


def test_no_secret_in_files_or_output(tmp_path: Path) -> None:
    rules = demo_rules()
    rules["cards"][0]["pin"] = PIN
    rules["faults"] = [{"mode": "never", "mti": "0200", "count": 1}]
    with host_process(tmp_path, rules) as (port, _):
        directory = tmp_path / "t"
        terminal = provision(directory, port, response_timeout=1.0)
        outputs: list[str] = []
        for args in (
            ("--type", "sale", "--amount", "1000", "--pin", PIN),  # unanswered: reversed
            ("--type", "sale", "--amount", "1100", "--pin", PIN),
            ("--type", "refund", "--amount", "100"),
            ("--type", "sale", "--amount", "300", "--entry", "keyed"),
        ):
            done = posterm("pay", "--config", str(terminal.config), "--operator", "admin", *args,
                           stdin=f"{PAN}=3012\n")  # fmt: skip
            assert done.returncode in (0, 1), done.stderr
            outputs += [done.stdout, done.stderr]
        config = str(terminal.config)
        for command in (
            ("settle", "--config", config, "--operator", "admin"),
            ("journal", "--json", "--config", config),
        ):
            done = posterm(*command)
            outputs += [done.stdout, done.stderr]
        kbpk_hex = (directory / "kbpk.hex").read_text().strip()
        (directory / "kbpk.hex").unlink()  # the KBPK file is the rig's, not the terminal's
        blobs = {f"output {i}": text.encode() for i, text in enumerate(outputs)}
        for path in directory.rglob("*"):
            if path.is_file():
                blobs[str(path.relative_to(directory))] = path.read_bytes()
        assert any(name.startswith("journal.db") for name in blobs)
        assert "receipts.txt" in blobs and b"476173******0044" in blobs["receipts.txt"]
        hits = [
            (what, name)
            for name, blob in blobs.items()
            for what, needle in needles(kbpk_hex).items()
            if needle in blob
        ]
        assert hits == []
        assert os.environ.get("POSTERM_JOURNAL_CRASH") is None
