"""Processes of an outside rig: `posterm sim host` as its own process, the terminal
configured only through the rig contract (TOML + `posterm keys inject` + `posterm
operator add`), and `posterm pay` run as a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.demo import DEMO_PASSWORD, KSN, demo_rules, rules_toml, tr31_block, write_config

POSTERM = [sys.executable, "-m", "terminal"]


def env() -> dict[str, str]:
    return {**os.environ, "POSTERM_PASSWORD": DEMO_PASSWORD, "PYTHONWARNINGS": "ignore"}


@contextmanager
def host_process(directory: Path, rules: dict[str, Any]) -> Iterator[tuple[int, Path]]:
    """`posterm sim host --port 0`; yields (port, ledger path)."""
    rules_file = directory / "rules.toml"
    rules_file.write_text(rules_toml(rules), encoding="utf-8")
    ledger = directory / "host-ledger.db"
    proc = subprocess.Popen(
        [
            *POSTERM,
            "sim",
            "host",
            "--port",
            "0",
            "--rules",
            str(rules_file),
            "--ledger",
            str(ledger),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"host did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        yield int(match.group(1)), ledger
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def posterm(
    *args: str,
    stdin: str | None = None,
    timeout: float = 60,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*POSTERM, *args],
        capture_output=True,
        text=True,
        env={**env(), **(extra_env or {})},
        timeout=timeout,
        input=stdin,
    )


@dataclass
class Terminal:
    config: Path

    def pay(
        self, *args: str, stdin: str | None = None, extra_env: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any] | None, str]:
        done = posterm(
            "pay", "--config", str(self.config), "--operator", "admin", *args, stdin=stdin
        )
        lines = done.stdout.strip().splitlines()
        result = json.loads(lines[0]) if len(lines) == 1 else None
        return done.returncode, result, done.stderr + ("" if len(lines) == 1 else done.stdout)


def provision(directory: Path, port: int, **config: Any) -> Terminal:
    """Config TOML + `posterm keys inject` + `posterm operator add` (rig contract)."""
    path = write_config(directory, port, **config)
    kbpk = os.urandom(16)
    kbpk_file = directory / "kbpk.hex"
    kbpk_file.write_text(kbpk.hex().upper(), encoding="ascii")
    block = tr31_block(kbpk)
    done = posterm("keys", "inject", block, "--kbpk-file", str(kbpk_file), "--slot", "dukpt",
                   "--ksn", KSN, "--config", str(path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = posterm("operator", "add", "admin", "--role", "admin", "--config", str(path))
    assert done.returncode == 0, done.stderr
    return Terminal(path)


def start_run(config: Path, ecr: str = "tcp://127.0.0.1:0") -> tuple[subprocess.Popen[str], int]:
    """`posterm run --config CONFIG --ecr ECR` started; (process, ECR port from the
    ready line). The caller stops it (SIGTERM) and reads its stderr."""
    proc = subprocess.Popen(
        [*POSTERM, "run", "--config", str(config), "--ecr", ecr],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    match = re.search(r"tcp://127\.0\.0\.1:(\d+)", banner)
    assert match, f"{banner!r} {proc.stderr.read() if proc.stderr and not banner else ''}"
    proc.banner = banner  # type: ignore[attr-defined]
    return proc, int(match.group(1))


__all__ = ["Terminal", "demo_rules", "host_process", "posterm", "provision", "start_run"]
