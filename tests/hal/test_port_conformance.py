"""Drivers and sim devices structurally satisfy the Protocols in hal/ports.py (mypy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def _mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_device_fits_its_port() -> None:
    result = _mypy(HERE / "port_conformance.py")
    assert result.returncode == 0, result.stdout


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad_conformance.py"
    bad.write_text(
        "from hal import ports\n"
        "from sim.devices import SimDisplay\n"
        "def wrong(x: SimDisplay) -> ports.Printer: return x\n"
    )
    result = _mypy(bad)
    assert result.returncode != 0 and "Printer" in result.stdout
