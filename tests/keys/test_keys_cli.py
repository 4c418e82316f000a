"""`posterm keys inject|list|erase` per the rig contract (shared/rig-contract.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keys import dukpt, tr31
from keys.store import FileRootSecret, KeyStore
from terminal.cli import main
from terminal.commands.keys import keys_paths_from_config

KBPK_HEX = "1D22BF32387C600AD97F9B97A51311AC"
BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
KSN = "FFFF9876543210E00000"


@pytest.fixture
def rig(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "data"
    config = tmp_path / "posterm.toml"
    config.write_text(
        f'[terminal]\ndata_dir = "{data}"\n[keys]\nroot_secret_file = "{tmp_path}/root.secret"\n'
    )
    kbpk_file = tmp_path / "kbpk.hex"
    kbpk_file.write_text(KBPK_HEX + "\n")
    return {"config": config, "kbpk": kbpk_file, "data": data, "root": tmp_path / "root.secret"}


def ipek_block() -> str:
    ipek = dukpt.derive_ipek(BDK, bytes.fromhex(KSN))
    return tr31.wrap(bytes.fromhex(KBPK_HEX), "B0000B1TX00N0000", ipek)


def test_inject_dukpt_list_and_use(
    rig: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["keys", "inject", ipek_block(), "--kbpk-file", str(rig["kbpk"]), "--slot", "dukpt",
         "--ksn", KSN, "--config", str(rig["config"])]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr()
    ipek = dukpt.derive_ipek(BDK, bytes.fromhex(KSN))
    for text in (out.out, out.err):
        assert ipek.hex().upper() not in text.upper() and KBPK_HEX not in text.upper()
    injected = json.loads(out.out)
    assert injected["slot"] == "dukpt" and injected["usage"] == "B1"
    assert injected["ksn"] == "FFFF9876543210E00001"
    assert main(["keys", "list", "--config", str(rig["config"])]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed == [injected]
    assert rig["root"].exists() and (rig["data"] / "keys.store").exists()
    store = KeyStore.open_file(rig["data"] / "keys.store", FileRootSecret(rig["root"]))
    ksn, key = store.next_dukpt_key("dukpt")
    assert ksn.hex().upper() == "FFFF9876543210E00001"
    assert key.hex().upper() == "042666B49184CFA368DE9628D0397BC9"  # X9.24-1 A.4.2 counter 1
    assert main(["keys", "erase", "--config", str(rig["config"])]) == 0
    capsys.readouterr()
    assert main(["keys", "list", "--config", str(rig["config"])]) == 0
    assert capsys.readouterr().out == ""


def test_inject_plain_key_and_ks_block(
    rig: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    kbpk = bytes.fromhex(KBPK_HEX)
    pin_block = tr31.wrap(kbpk, "B0000P0TE00N0000", bytes(range(16)))
    args = ["--kbpk-file", str(rig["kbpk"]), "--config", str(rig["config"])]
    assert main(["keys", "inject", pin_block, "--slot", "pin", *args]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "key"
    ipek = dukpt.derive_ipek(BDK, bytes.fromhex(KSN))
    ks_block = tr31.wrap(
        kbpk, tr31.Header("B", "B1", "T", "X", optional_blocks=(("KS", KSN),)), ipek
    )
    assert main(["keys", "inject", ks_block, "--slot", "dukpt", *args]) == 0
    assert json.loads(capsys.readouterr().out)["ksn"] == "FFFF9876543210E00001"


@pytest.mark.parametrize(
    ("argv_tail", "message"),
    [
        (["--ksn", "ABC"], "KSN"),
        (["--ksn", "FFFF9876543210E0000X"], "KSN is not hex"),
    ],
)
def test_usage_errors_exit_2(
    rig: dict[str, Path], capsys: pytest.CaptureFixture[str], argv_tail: list[str], message: str
) -> None:
    argv = ["keys", "inject", ipek_block(), "--kbpk-file", str(rig["kbpk"]), "--slot", "dukpt"]
    assert main([*argv, "--config", str(rig["config"]), *argv_tail]) == 2
    assert message in capsys.readouterr().err


def test_bad_mac_and_missing_ksn_exit_2(
    rig: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    block = ipek_block()
    tampered = block[:-1] + ("0" if block[-1] != "0" else "1")
    base = ["--kbpk-file", str(rig["kbpk"]), "--slot", "dukpt", "--config", str(rig["config"])]
    assert main(["keys", "inject", tampered, *base, "--ksn", KSN]) == 2
    err = capsys.readouterr().err
    assert "MAC" in err and KBPK_HEX not in err.upper()
    assert main(["keys", "inject", block, *base]) == 2
    assert "--ksn" in capsys.readouterr().err


def test_config_errors_name_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[keys]\n")
    assert main(["keys", "list", "--config", str(config)]) == 2
    assert "terminal.data_dir" in capsys.readouterr().err
    config.write_text('[terminal]\ndata_dir = "d"\n[keys]\nroot_secret_file = 5\n')
    assert main(["keys", "list", "--config", str(config)]) == 2
    assert "keys.root_secret_file" in capsys.readouterr().err
    config.write_text("not = [toml")
    assert main(["keys", "list", "--config", str(config)]) == 2
    assert main(["keys", "list", "--config", str(tmp_path / "missing.toml")]) == 2
    config.write_text('[terminal]\ndata_dir = "d"\n')
    assert keys_paths_from_config(config) == (
        tmp_path / "d" / "keys.store",
        tmp_path / "d" / "root.secret",
    )


def test_console_script_has_no_traceback(rig: dict[str, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "terminal", "keys", "inject", "B0000", "--kbpk-file",
         str(rig["kbpk"]), "--slot", "x", "--config", str(rig["config"])],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "TR-31" in result.stderr
