"""Issue 3 command 1: `posterm demo` completes a simulated purchase (no pcscd needed),
prints the customer receipt and says which pieces are simulated, in a few seconds."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def test_demo_approves_and_prints_the_receipt() -> None:
    env = {k: v for k, v in os.environ.items() if k != "POSTERM_PASSWORD"}
    env["PYTHONWARNINGS"] = "ignore"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "terminal", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "SIMULATED" in out and "CUSTOMER COPY" in out and "APPROVED" in out
    assert "476173******0044" in out and "4761739001010044" not in out
    assert "PIN VERIFIED" in out and "TC " in out
    assert "Traceback" not in done.stderr
    assert elapsed < 20, elapsed
