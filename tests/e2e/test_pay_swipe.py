"""`posterm pay --entry swipe` as a real process with a `sim://PROFILE` magstripe reader
(the sim swipes that sim.card profile's tracks when attached, as the sim keypad types
`--pin`): a magstripe-only card is approved with DE 22 02x; a chip card swiped is told to
insert (terminated, exit 1, nothing sent). Against `posterm sim host` over TCP."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.host import Ledger
from terminal.journal import Journal
from tests.e2e.rigproc import demo_rules, host_process, provision


@pytest.mark.parametrize("pin", [["--pin", "1234"], []])
def test_magstripe_only_card_swiped_is_approved(tmp_path: Path, pin: list[str]) -> None:
    with host_process(tmp_path, demo_rules()) as (port, ledger):
        terminal = provision(
            tmp_path / "t", port, extra_devices={"magstripe": "sim://magstripe-only"}
        )
        code, result, err = terminal.pay("--type", "sale", "--amount", "900", "--entry",
                                         "swipe", *pin)  # fmt: skip
        assert code == 0, err
        assert result is not None and result["decision"] == "approved", result
        assert result["entry_mode"] in ("021", "022")  # magstripe; PIN-capable or not
        assert result["pan"] == "476173******0143"
        (request,) = Ledger(ledger).messages(mti="0200")
        assert request["fields"]["22"] == result["entry_mode"]
        assert Ledger(ledger).net_amount(pan="4761739001010143") == 900
        with Journal(terminal.config.parent / "journal.db") as journal:
            (row,) = list(journal.transactions())
        assert "=" not in str(row.request) and "^" not in str(row.extra)  # no track data


def test_chip_card_swiped_is_told_to_insert(tmp_path: Path) -> None:
    with host_process(tmp_path, demo_rules()) as (port, ledger):
        terminal = provision(tmp_path / "t", port, extra_devices={"magstripe": "sim://chip-swiped"})
        code, result, err = terminal.pay("--type", "sale", "--amount", "900", "--entry", "swipe")
        assert code == 1, err
        assert result is not None and result["decision"] == "terminated", result
        assert "insert" in result["reason"]
        assert Ledger(ledger).messages(mti="0200") == []
