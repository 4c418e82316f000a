"""`posterm run` as a real process in attended mode: a scripted sim keypad from the
config (``keypad = "sim://?keys=..."``) logs a cashier in, picks SALE and keys 12.50;
the sim card is already in the reader; online PIN through the secure PIN pad; the sim
host (its own process) approves; the card is left in, so "remove card" times out; the
idle cashier is logged out — seen through the ECR ``status`` and the host's ledger."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

from sim.host import Ledger
from tests.e2e.rigproc import demo_rules, host_process, provision, start_run
from tests.terminal.attended_rig import CASHIER, PAN, add_operators


def status(port: int) -> dict:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b'{"command": "status"}\n')
        return json.loads(conn.makefile("rb").readline())


def test_run_attended_scripted_sale_then_idle_logout(tmp_path: Path) -> None:
    keys = f"{CASHIER[0]}E{CASHIER[1]}E" + "1" + "1250E"
    with host_process(tmp_path, demo_rules()) as (port, ledger_path):
        terminal = provision(
            tmp_path / "t",
            port,
            keypad=f"sim://?pin=1234&keys={keys}",
            extra_devices={"display": "sim://?columns=16&rows=4&stream=stderr"},
            extra_toml="\n[timeouts]\ncard_removal = 0.5\noperator_idle = 1.0\n",
        )
        add_operators(terminal.config)
        proc, ecr = start_run(terminal.config)
        try:
            assert "attended" in proc.banner, proc.banner  # type: ignore[attr-defined]
            ledger = Ledger(ledger_path)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and ledger.net_amount(pan=PAN) != 1250:
                time.sleep(0.1)
            assert ledger.net_amount(pan=PAN) == 1250
            assert ledger.messages(mti="0200")[0]["fields"]["4"] == "000000001250"
            seen = []
            while time.monotonic() < deadline:
                seen.append(status(ecr).get("state"))
                if seen[-1] == "logged_out":
                    break
                time.sleep(0.2)
            assert seen[-1] == "logged_out", seen
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=15)
        err = proc.stderr.read() if proc.stderr else ""
        assert code == 0, err
        assert "Traceback" not in err
        screens = ("|OPERATOR LOG-IN |", "GBP 12.50", "APPROVED", "REMOVE CARD", "IDLE LOG-OUT")
        for screen in screens:
            assert screen in err, screen
        assert "1111" not in err.replace("ID: 1001", "")  # the password is masked
