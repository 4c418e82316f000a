"""`posterm pay` as a subprocess without pcscd: usage and configuration errors exit 2
with a message on stderr and no traceback; the in-process sim card approves."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.rigproc import demo_rules, host_process, posterm, provision


def test_pay_usage_errors_exit_2(tmp_path: Path) -> None:
    with host_process(tmp_path, demo_rules()) as (port, _):
        terminal = provision(tmp_path / "t", port, keypad="tty:///dev/null")
        code, result, err = terminal.pay("--type", "sale", "--amount", "100", "--pin", "1234")
        assert code == 2 and result is None and "--pin" in err and "Traceback" not in err
        code, result, err = terminal.pay("--type", "sale")
        assert code == 2 and "amount" in err
        done = posterm("pay", "--config", str(tmp_path / "missing.toml"), "--operator", "x",
                       "--type", "sale", "--amount", "1")  # fmt: skip
        assert done.returncode == 2 and "Traceback" not in done.stderr


def test_pay_wrong_password_and_role(tmp_path: Path) -> None:
    with host_process(tmp_path, demo_rules()) as (port, _):
        terminal = provision(tmp_path / "t", port)
        env_password = os.environ.get("POSTERM_PASSWORD")
        done = posterm("pay", "--config", str(terminal.config), "--operator", "nobody",
                       "--type", "sale", "--amount", "1")  # fmt: skip
        assert done.returncode == 2 and "nobody" in done.stderr
        assert env_password == os.environ.get("POSTERM_PASSWORD")


def test_pay_sim_card_sale_and_keyed_refund(tmp_path: Path) -> None:
    with host_process(tmp_path, demo_rules()) as (port, _):
        terminal = provision(tmp_path / "t", port)
        code, result, err = terminal.pay("--type", "sale", "--amount", "700", "--pin", "1234")
        assert code == 0, err
        assert result is not None and set(result) == {
            "decision", "reason", "type", "amount", "currency", "pan", "entry_mode", "stan",
            "rrn", "auth_code", "response_code", "tvr", "tsi", "cvm_results",
            "cryptogram_type", "aid", "reversal_pending", "balance", "receipt",
        }  # fmt: skip
        code, result, err = terminal.pay("--type", "refund", "--amount", "200", "--entry",
                                         "keyed", stdin="4761739001010010=3012\n")  # fmt: skip
        assert code == 0, err
        assert result is not None and result["entry_mode"] == "011"
        receipts = (tmp_path / "t" / "receipts.txt").read_text()
        assert "MERCHANT COPY" in receipts and "4761739001010010" not in receipts
