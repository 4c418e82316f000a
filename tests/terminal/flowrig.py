"""A terminal rig for flow tests: the sim host over real TCP (in-process), a config
written per the rig contract, the DUKPT key injected as a TR-31 B1 block, an admin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.demo import BDK, DEMO_PASSWORD, add_admin, demo_rules, inject_dukpt, write_config
from sim.host import HostSimulator, rules_from_dict
from terminal.app import Terminal, login_to_idle, open_terminal
from terminal.config import load_config
from terminal.flows import TxnRequest, result_object, run_flow


@dataclass
class Rig:
    directory: Path
    host: HostSimulator
    config_path: Path

    def terminal(self, *, pin: str | None = "1234", devices: dict[str, Any] | None = None,
                 **config: Any) -> Terminal:  # fmt: skip
        if config:
            self.config_path = write_config(self.directory / "terminal", self.host.port, **config)
        terminal = open_terminal(load_config(self.config_path), pin=pin, devices=devices)
        terminal.boot(sign_on=False)
        login_to_idle(terminal)
        return terminal

    def pay(self, *, pin: str | None = "1234", devices: dict[str, Any] | None = None,
            config: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:  # fmt: skip
        terminal = self.terminal(pin=pin, devices=devices, **(config or {}))
        try:
            ctx = run_flow(TxnRequest(operator="admin", **fields), terminal.ports)
            return result_object(ctx)
        finally:
            terminal.close()


@contextmanager
def rig(
    directory: Path, *, cards: list[dict[str, Any]] | None = None, **host_rules: Any
) -> Iterator[Rig]:
    """``cards``: host card rules put before the demo's (an exact PAN rule wins)."""
    rules = demo_rules(**host_rules)
    rules["cards"] = [*(cards or []), *rules["cards"]]
    with HostSimulator(rules_from_dict(rules), directory / "ledger.db", BDK) as host:
        config_path = write_config(directory / "terminal", host.port, response_timeout=1.0)
        inject_dukpt(config_path)
        add_admin(config_path, "admin", DEMO_PASSWORD)
        os.environ["POSTERM_PASSWORD"] = DEMO_PASSWORD
        yield Rig(directory, host, config_path)
