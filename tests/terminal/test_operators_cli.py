"""`posterm operator`, `posterm journal --json` and `posterm settle` per the rig contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from terminal import cli
from terminal.commands import settle as settle_command
from terminal.hostmsg import MemoryKeySource, financial_request
from terminal.hostmsg.builders import Acceptor
from terminal.journal import Journal, NewTransaction, TxnType
from terminal.journal.datakey import data_key_source, ensure_root_secret
from tests.terminal.hostpeer import IPEK, KSN, Peer

PAN = "5413330089010434"


def write_config(tmp_path: Path, port: int = 1) -> Path:
    path = tmp_path / "posterm.toml"
    path.write_text(
        f"""
[terminal]
data_dir = "{tmp_path / "data"}"
[host]
url = "tcp://127.0.0.1:{port}"
response_timeout = 2
[[merchants]]
name = "Main store"
tid = "TERM0001"
mid = "MERCHANT0000001"
[[merchants]]
name = "Cafe"
tid = "TERM0002"
mid = "MERCHANT0000002"
[keys]
root_secret_file = "{tmp_path / "data" / "root.secret"}"
"""
    )
    return path


def posterm(
    *args: str, password: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", **env}
    if password is not None:
        environment["POSTERM_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "terminal", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_operator_add_rules(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    first = posterm(
        "operator", "add", "c1", "--role", "cashier", "--config", config, password="pw1234"
    )
    assert first.returncode == 2 and "first operator" in first.stderr
    boss = posterm(
        "operator", "add", "boss", "--role", "admin", "--config", config, password="adminpw"
    )
    assert boss.returncode == 0, boss.stderr
    anonymous = posterm(
        "operator", "add", "c1", "--role", "cashier", "--config", config, password="pw1234"
    )
    assert anonymous.returncode == 2 and "admin" in anonymous.stderr
    wrong = posterm(
        "operator",
        "add",
        "c1",
        "--role",
        "cashier",
        "--config",
        config,
        "--operator",
        "boss",
        password="nope",
    )
    assert wrong.returncode == 2 and "wrong password" in wrong.stderr
    ok = posterm(
        "operator",
        "add",
        "c1",
        "--role",
        "cashier",
        "--config",
        config,
        "--operator",
        "boss",
        password="adminpw",
        POSTERM_NEW_PASSWORD="cashpw",
    )
    assert ok.returncode == 0, ok.stderr
    by_cashier = posterm(
        "operator",
        "add",
        "c2",
        "--role",
        "cashier",
        "--config",
        config,
        "--operator",
        "c1",
        password="cashpw",
    )
    assert by_cashier.returncode == 2 and "needs admin" in by_cashier.stderr
    listed = posterm("operator", "list", "--config", config)
    assert [json.loads(x)["id"] for x in listed.stdout.splitlines()] == ["boss", "c1"]


def test_journal_json_lines_masked(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    root = tmp_path / "data" / "root.secret"
    ensure_root_secret(root)
    with Journal(tmp_path / "data" / "journal.db", data_key=data_key_source(root)) as journal:
        txn = journal.create_transaction(
            NewTransaction(
                "Cafe",
                "TERM0002",
                "MERCHANT0000002",
                TxnType.SALE,
                1234,
                "826",
                "1125093015",
                pan=PAN,
                scheme="mastercard",
            ),
            mti="0200",
            request={3: "000000"},
            arm_reversal=True,
        )
        journal.record_response(txn.id, approved=True, fields={39: "00", 37: "000000000777"})
        pending = journal.create_transaction(
            NewTransaction(
                "Main store", "TERM0001", "MERCHANT0000001", TxnType.REFUND, 50, "826", "1125093015"
            ),
            arm_reversal=True,
        )
        journal.no_valid_response(pending.id)
    out = posterm("journal", "--config", str(config), "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["approved", "pending"]
    first = rows[0]
    for key in ("type", "amount", "stan", "rrn", "merchant", "batch", "status"):
        assert key in first
    assert first["pan"] == "541333******0434" and first["rrn"] == "000000000777"
    assert rows[1]["reversal_pending"] is True
    assert PAN not in out.stdout


def test_settle_command_closes_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = Peer(lambda seen: {"39": "95"} if seen.fields.get("3") == "920000" else {})
    try:
        config = write_config(tmp_path, peer.port)
        root = tmp_path / "data" / "root.secret"
        ensure_root_secret(root)
        keys = MemoryKeySource(IPEK, KSN)
        monkeypatch.setattr(settle_command, "open_key_source", lambda _config: keys)
        monkeypatch.setenv("POSTERM_PASSWORD", "adminpw")
        assert (
            cli.main(["operator", "add", "boss", "--role", "admin", "--config", str(config)]) == 0
        )
        with Journal(tmp_path / "data" / "journal.db", data_key=data_key_source(root)) as j:
            request = financial_request(
                "sale",
                stan="0",
                amount=999,
                currency="826",
                acceptor=Acceptor("TERM0001", "MERCHANT0000001"),
                when=__import__("datetime").datetime(2026, 1, 1),
                entry_mode="051",
                batch=1,
                pan=PAN,
            )
            txn = j.create_transaction(
                NewTransaction(
                    "Main store",
                    "TERM0001",
                    "MERCHANT0000001",
                    TxnType.SALE,
                    999,
                    "826",
                    "0101000000",
                    pan=PAN,
                ),
                mti="0200",
                request=request.fields,
                arm_reversal=True,
            )
            j.record_response(txn.id, approved=True, fields={39: "00", 37: "000000000001"})
        capsys.readouterr()
        assert cli.main(["settle", "--config", str(config), "--operator", "boss"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["result"] == "closed" and result["batch"] == 1
        assert (result["debit_count"], result["debit_amount"], result["uploaded"]) == (1, 999, 1)
        assert (result["credit_count"], result["credit_amount"]) == (0, 0)
        assert [s.mti for s in peer.seen] == ["0500", "0320", "0500"]
        assert peer.seen[1].fields["2"] == PAN  # the upload carries the decrypted PAN
        # Cafe's batch is its own: nothing to settle, closes with zero totals.
        assert (
            cli.main(
                ["settle", "--config", str(config), "--operator", "boss", "--merchant", "Cafe"]
            )
            == 0
        )
        cafe = json.loads(capsys.readouterr().out)
        assert cafe["debit_count"] == 0 and cafe["merchant"] == "Cafe"
    finally:
        peer.close()


def test_settle_needs_supervisor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = str(write_config(tmp_path))
    monkeypatch.setenv("POSTERM_PASSWORD", "adminpw")
    assert cli.main(["operator", "add", "boss", "--role", "admin", "--config", config]) == 0
    monkeypatch.setenv("POSTERM_NEW_PASSWORD", "cashpw")
    assert (
        cli.main(
            ["operator", "add", "c1", "--role", "cashier", "--config", config, "--operator", "boss"]
        )
        == 0
    )
    monkeypatch.setenv("POSTERM_PASSWORD", "cashpw")
    assert cli.main(["settle", "--config", config, "--operator", "c1"]) == 2
