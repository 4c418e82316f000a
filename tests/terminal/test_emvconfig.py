"""terminal.emvconfig: the TOML config becomes a working kernel configuration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sim.card as sim_card
from emv.bits import TVR
from emv.callbacks import DefaultCallbacks, OnlineResponse
from emv.context import TransactionInput
from emv.kernel import run_transaction
from terminal.config import parse_config
from terminal.emvconfig import kernel_config

TXN = TransactionInput(1500, dt.date(2026, 11, 25), dt.time(9, 0), bytes.fromhex("01020304"))


def config(extra: str = "") -> dict[str, object]:
    import tomllib

    text = f"""
[terminal]
data_dir = "state"
country_code = "0826"
currency_code = "0978"
terminal_type = "22"
capabilities = "E0F8C8"
[devices]
contact_reader = "pcsc://Virtual PCD 00 00"
[host]
url = "tcp://127.0.0.1:8583"
[[merchants]]
name = "Main store"
tid = "TERM0001"
mid = "MERCHANT0000001"
[keys]
root_secret_file = "root.secret"
{extra}
"""
    return tomllib.loads(text)


class Online(DefaultCallbacks):
    def go_online(self, request):  # type: ignore[no-untyped-def]
        return OnlineResponse(True, b"00")


ROOT = Path(__file__).resolve().parents[2]


def with_sim_ca_keys(data: dict[str, object]) -> dict[str, object]:
    """Add the simulator's TEST ONLY CA public keys (already in [[ca_keys]] form)."""
    import tomllib

    keys = tomllib.loads((ROOT / "sim/ca/ca_public_keys.toml").read_text())["ca_keys"]
    # sim/ca writes expiry as YYYYMMDD, the config wants YYMMDD
    keys = [{**key, "expiry": key["expiry"][-6:]} if "expiry" in key else key for key in keys]
    return {**data, "ca_keys": keys}


def test_terminal_data_and_aids(tmp_path: Path) -> None:
    kernel = kernel_config(parse_config(with_sim_ca_keys(config()), base_dir=tmp_path))
    assert kernel.terminal.country_code == b"\x08\x26"
    assert kernel.terminal.currency_code == b"\x09\x78"
    assert kernel.terminal.terminal_type == 0x22
    assert kernel.terminal.terminal_id == b"TERM0001"
    assert kernel.aid_entry(bytes.fromhex("A0000000031010")) is not None
    assert kernel.ca_keys


def test_ca_keys_verify_a_sim_cda_card(tmp_path: Path) -> None:
    kernel = kernel_config(parse_config(with_sim_ca_keys(config()), base_dir=tmp_path))
    card = sim_card.VirtualCard(sim_card.load_profile("visa-cda"))
    result = run_transaction(card, kernel, Online(), TXN)
    tvr = TVR.from_bytes(result.tvr)
    assert TVR.CDA_FAILED not in tvr and TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED not in tvr
    assert result.approved


def test_hashed_exception_file_reaches_the_kernel(tmp_path: Path) -> None:
    pan = sim_card.load_profile("visa-cda").applications[0].pan
    extra = f'[[exception_file]]\npan = "{pan}"\n'
    kernel = kernel_config(parse_config(config(extra), base_dir=tmp_path))
    card = sim_card.VirtualCard(sim_card.load_profile("visa-cda"))
    result = run_transaction(card, kernel, Online(), TXN)
    assert TVR.CARD_ON_TERMINAL_EXCEPTION_FILE in TVR.from_bytes(result.tvr)
