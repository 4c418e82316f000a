"""Boot self-test of an installed firmware release: intact → boot reaches the post-boot
state; damaged (a file altered, added or removed, manifest unsigned) → the self-test
fails and the terminal stays OUT_OF_SERVICE (machine.py state table), and `posterm pay`
refuses with exit 2 naming the damage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.demo import DEMO_PASSWORD
from terminal.app import SelfTestFailed, open_terminal
from terminal.config import load_config
from terminal.machine import State
from terminal.update import build_bundle
from terminal.update.install import apply_bundle, firmware_root
from tests.terminal.flowrig import Rig, rig
from tests.terminal.update_support import CREATED_AT, dev_key, make_source

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def r(tmp_path: Path) -> Rig:
    with rig(tmp_path) as made:
        yield made


def install(r: Rig, version: str = "1.0.0") -> Path:
    """A release installed under the terminal's data_dir; returns its tree."""
    source = make_source(r.directory / f"src-{version}", version=version)
    bundle = build_bundle(
        r.directory / f"out-{version}", "sim", dev_key(), source_root=source,
        created_at=CREATED_AT,
    ).path  # fmt: skip
    data_dir = Path(load_config(r.config_path).terminal.data_dir)
    apply_bundle(bundle, data_dir, platform="sim")
    return firmware_root(data_dir) / "current" / "tree"


def boot_state(r: Rig) -> tuple[State, str | None]:
    terminal = open_terminal(load_config(r.config_path), pin="1234")
    try:
        terminal.boot(sign_on=False)
    except SelfTestFailed as error:
        return terminal.machine.state, str(error)
    finally:
        terminal.close()
    return terminal.machine.state, terminal.report.self_tests["firmware"]


def test_no_release_installed_boots(r: Rig) -> None:
    assert boot_state(r) == (State.LOGGED_OUT, "none installed")


def test_intact_release_boots(r: Rig) -> None:
    install(r)
    assert boot_state(r) == (State.LOGGED_OUT, "ok 1.0.0")


@pytest.mark.parametrize("damage", ["altered", "added", "removed", "signature"])
def test_damaged_release_keeps_the_terminal_out_of_service(r: Rig, damage: str) -> None:
    tree = install(r)
    if damage == "altered":
        (tree / "terminal" / "app.py").write_text("def main() -> int:\n    return 1\n")
    elif damage == "added":
        (tree / "terminal" / "backdoor.py").write_text("X = 1\n")
    elif damage == "removed":
        (tree / "sim" / "card.py").unlink()
    else:
        sig = tree.parent / "manifest.sig"
        sig.write_bytes(bytes(len(sig.read_bytes())))
    state, reason = boot_state(r)
    assert state is State.OUT_OF_SERVICE
    assert reason is not None and "firmware release" in reason and "damaged" in reason
    done = subprocess.run(
        [sys.executable, "-m", "terminal", "pay", "--config", str(r.config_path),
         "--operator", "admin", "--type", "sale", "--amount", "100", "--pin", "1234"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "POSTERM_PASSWORD": DEMO_PASSWORD},
    )  # fmt: skip
    assert done.returncode == 2 and "damaged" in done.stderr, done.stderr
    assert done.stdout == ""
    assert r.host.ledger.messages(mti="0200") == []
