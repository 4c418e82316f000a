"""`posterm run` as a real process: boot to IDLE with sign-on, a sale over the ECR
JSON-lines protocol on TCP (same fields and result object as `posterm pay`), a bad
line answered with an error, SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from pathlib import Path

from sim.demo import DEMO_PASSWORD
from sim.host import Ledger
from tests.e2e.rigproc import POSTERM, demo_rules, env, host_process, provision


def test_run_ecr_sale_and_sigterm(tmp_path: Path) -> None:
    with host_process(tmp_path, demo_rules()) as (port, ledger_path):
        terminal = provision(tmp_path / "t", port)
        proc = subprocess.Popen(
            [*POSTERM, "run", "--config", str(terminal.config), "--ecr", "tcp://127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline()
            assert "logged_out" in banner and "signed on: true" in banner, banner
            match = re.search(r"tcp://127\.0\.0\.1:(\d+)", banner)
            assert match, banner
            with socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=30) as conn:
                reader = conn.makefile("rb")
                conn.sendall(b"this is not json\n")
                assert "error" in json.loads(reader.readline())
                request = {"id": 7, "type": "sale", "amount": 1999, "pin": "1234",
                           "operator": "admin", "password": DEMO_PASSWORD}  # fmt: skip
                conn.sendall((json.dumps(request) + "\n").encode())
                answer = json.loads(reader.readline())
                assert answer["id"] == 7
                assert answer["decision"] == "approved", answer
                assert answer["cryptogram_type"] == "TC" and answer["amount"] == 1999
                conn.sendall(b'{"command": "status"}\n')
                assert json.loads(reader.readline())["state"] == "logged_out"
                settle = {"command": "settle", "operator": "admin", "password": DEMO_PASSWORD}
                conn.sendall((json.dumps(settle) + "\n").encode())
                closed = json.loads(reader.readline())
                assert closed["result"] == "closed", closed
                assert closed["debit_count"] == 1 and closed["debit_amount"] == 1999
            assert Ledger(ledger_path).net_amount(pan="4761739001010044") == 1999
            assert Ledger(ledger_path).messages(mti="0800")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=15)
        assert code == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
