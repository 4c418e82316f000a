"""Issue 8 acceptance: `posterm pay` against a card behind REAL pcscd (vpcd) and the
host simulator as a separate process over TCP, configured only through the rig contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.card import VirtualCard
from sim.host import Ledger
from sim.vpicc import VpiccConnection
from tests.e2e.rigproc import demo_rules, host_process, provision

PAN = "4761739001010044"


@pytest.fixture
def card(pcscd: str) -> Iterator[str]:
    link = VpiccConnection(VirtualCard("visa-online-pin")).serve_in_thread()
    try:
        yield pcscd
    finally:
        link.stop()


def test_chip_sale_with_online_pin_approved(card: str, tmp_path: Path) -> None:
    with host_process(tmp_path, demo_rules()) as (port, ledger_path):
        terminal = provision(tmp_path / "t", port, contact_reader=f"pcsc://{card}")
        code, result, err = terminal.pay("--type", "sale", "--amount", "1250", "--pin", "1234")
        assert code == 0, err
        assert result is not None and result["decision"] == "approved"
        assert result["entry_mode"] == "051" and result["cryptogram_type"] == "TC"
        assert result["pan"] == "476173******0044"
        assert "PIN VERIFIED" in result["receipt"]
        ledger = Ledger(ledger_path)
        assert ledger.net_amount(pan=PAN) == 1250


def test_unanswered_sale_reversed_by_next_command(card: str, tmp_path: Path) -> None:
    rules = demo_rules()
    rules["faults"] = [{"mode": "never", "mti": "0200", "count": 1}]
    with host_process(tmp_path, rules) as (port, ledger_path):
        terminal = provision(tmp_path / "t", port, contact_reader=f"pcsc://{card}",
                             response_timeout=1.0)  # fmt: skip
        code, result, err = terminal.pay("--type", "sale", "--amount", "4000", "--pin", "1234")
        assert code == 1, err
        assert result is not None and result["reversal_pending"] is True
        assert result["decision"] == "terminated"
        ledger = Ledger(ledger_path)
        assert [t.state for t in ledger.transactions(pan=PAN)] == ["authorised"]
        code, result, err = terminal.pay("--type", "sale", "--amount", "100", "--pin", "1234")
        assert code == 0, err
        assert result is not None and result["reversal_pending"] is False
        states = sorted(t.state for t in Ledger(ledger_path).transactions(pan=PAN))
        assert states == ["authorised", "reversed"]
        assert Ledger(ledger_path).net_amount(pan=PAN) == 100
