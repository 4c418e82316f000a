"""Terminal firmware: boot to IDLE and resident memory at IDLE (issue 8).

Boot to IDLE (target ≤ 300 ms): in one process, from power-on (journal, key store and
devices opened from the config) through self-tests, journal recovery, sign-on (0800
over TCP to the sim host) and an operator log-in (scrypt) to the IDLE state; median of
several boots of the same terminal. The wall time from `exec` of a `posterm run`
process to its ready line (Python start-up and imports included) is reported beside it.
Resident memory (target ≤ 40 MB): VmRSS from /proc of a real `posterm run` process
after it printed its ready line.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Result

BOOT_TARGET_MS = 300.0
RSS_TARGET_MB = 40.0


HANDSET_READER = "pcsc://Virtual PCD 00 00"


def _rig(directory: Path, contact_reader: str | None = None):  # type: ignore[no-untyped-def]
    from sim.demo import BDK, DEMO_PASSWORD, add_admin, demo_rules, inject_dukpt, write_config
    from sim.host import HostSimulator, rules_from_dict

    host = HostSimulator(rules_from_dict(demo_rules()), directory / "ledger.db", BDK)
    port = host.start()
    extra = {} if contact_reader is None else {"contact_reader": contact_reader}
    config = write_config(directory / "t", port, **extra)
    inject_dukpt(config)
    add_admin(config, "admin", DEMO_PASSWORD)
    return host, config, DEMO_PASSWORD


def _boot_ms(config_path: Path, password: str) -> float:
    from terminal.app import open_terminal
    from terminal.config import load_config
    from terminal.machine import State
    from terminal.operators import Operators, Session

    start = time.perf_counter()
    config = load_config(config_path)
    terminal = open_terminal(config)
    try:
        terminal.boot()
        operators = Operators(terminal.ports.journal, config.operators)
        session = operators.login("admin", password)
        assert isinstance(session, Session)
        from terminal.app import login_to_idle

        login_to_idle(terminal)
        assert terminal.machine.state is State.IDLE
        elapsed = time.perf_counter() - start
    finally:
        terminal.close()
    return elapsed * 1000


def _process(config_path: Path) -> tuple[float, float]:
    """(ms from exec to the ready line, VmRSS MB at IDLE) of a real `posterm run`."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "terminal", "run", "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        ready = (time.perf_counter() - start) * 1000
        if "posterm run" not in line:
            raise RuntimeError("posterm run did not come up")
        time.sleep(0.3)  # settle at IDLE
        status = Path(f"/proc/{proc.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        rss = int(match.group(1)) / 1024 if match else float("nan")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return ready, rss


def run(quick: bool) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-terminal-") as temp:
        host, config, password = _rig(Path(temp))
        try:
            boots = [_boot_ms(config, password) for _ in range(3 if quick else 9)]
            processes = [_process(config) for _ in range(1 if quick else 3)]
        finally:
            host.stop()
    # A handset's configuration: the real PC/SC driver, not an in-process sim card
    # (which drags pyemv and its crypto libraries into the process).
    with tempfile.TemporaryDirectory(prefix="bench-terminal-") as temp:
        host, handset_config, _ = _rig(Path(temp), HANDSET_READER)
        try:
            handset = [_process(handset_config) for _ in range(1 if quick else 3)]
        finally:
            host.stop()
    boot = statistics.median(boots)
    ready = statistics.median(p[0] for p in processes)
    sim_rss = max(p[1] for p in processes)
    rss = max(p[1] for p in handset)
    return [
        Result(
            issue=8,
            name="terminal boot to IDLE (self-tests, recovery, sign-on, log-in)",
            measured=f"{boot:.0f} ms median of {len(boots)}",
            target=f"<= {BOOT_TARGET_MS:.0f} ms",
            met=boot <= BOOT_TARGET_MS,
            peer=f"`posterm run` exec to ready line: {ready:.0f} ms (Python start-up and imports)",
        ),
        Result(
            issue=8,
            name="resident memory of `posterm run` at IDLE (PC/SC reader config)",
            measured=f"{rss:.1f} MB VmRSS",
            target=f"<= {RSS_TARGET_MB:.0f} MB",
            met=rss <= RSS_TARGET_MB,
            note=f"with an in-process sim card instead: {sim_rss:.1f} MB",
        ),
    ]
