"""An in-process `posterm run` for attended-mode tests: the real Runner loop and
Attended UI on the terminal's one hal event queue, a scripted SimKeypad, a SimDisplay
whose screens are recorded, the in-process sim card reader, and the sim host over real
TCP (tests.terminal.flowrig). Time moves only when the test says (injected clock)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.card import VirtualCard
from sim.demo import DEMO_PASSWORD, write_config
from sim.devices import SimCardReader, SimDisplay, SimKeypad, SimMagstripe, SimPrinter
from terminal.app import Terminal, open_terminal
from terminal.attended import Attended
from terminal.commands.run import Runner
from terminal.config import load_config
from terminal.journal import Journal
from terminal.machine import State
from terminal.operators import Operators
from tests.terminal.flowrig import Rig, rig

CASHIER = ("1001", "1111")
SUPERVISOR = ("2002", "2222")
PAN = "4761739001010044"  # visa-online-pin TEST card


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Handset:
    rig: Rig
    terminal: Terminal
    runner: Runner
    ui: Attended
    keypad: SimKeypad
    display: SimDisplay
    reader: SimCardReader
    printer: SimPrinter
    magstripe: SimMagstripe
    clock: Clock
    cards: list[Any] = field(default_factory=list)

    @property
    def state(self) -> State:
        return self.terminal.machine.state

    def pump(self, rounds: int = 20) -> None:
        """Run the loop until the event queue is empty (bounded)."""
        for _ in range(rounds):
            self.runner.step(timeout=0)
            if not len(self.terminal.ports.queue):
                return

    def press(self, keys: str) -> None:
        self.keypad.press(keys)
        self.pump()

    def screen(self) -> str:
        return "\n".join(self.display.current)

    def seen(self, text: str) -> bool:
        return any(text in "\n".join(screen) for screen in self.display.screens)

    def insert(self, profile: str = "visa-online-pin") -> None:
        self.reader.insert(VirtualCard(profile))
        self.pump()

    def remove(self) -> None:
        self.reader.remove()
        self.pump()

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.pump()

    def login(self, who: tuple[str, str] = CASHIER) -> None:
        self.press(f"{who[0]}E{who[1]}E")

    def journal_rows(self) -> list[Any]:
        return list(self.terminal.ports.journal.transactions())


def add_operators(config_path: Path) -> None:
    journal = Journal(load_config(config_path).journal.path)
    try:
        operators = Operators(journal, load_config(config_path).operators, scrypt_n=2**10)
        admin = operators.login("admin", DEMO_PASSWORD)
        assert not isinstance(admin, Exception) and hasattr(admin, "role")
        operators.add(CASHIER[0], "cashier", CASHIER[1], by=admin)  # type: ignore[arg-type]
        operators.add(SUPERVISOR[0], "supervisor", SUPERVISOR[1], by=admin)  # type: ignore[arg-type]
    finally:
        journal.close()


@contextmanager
def handset(
    directory: Path,
    *,
    extra_toml: str = "",
    replace: dict[str, str] | None = None,
    pin: str | None = "1234",
    **host_rules: Any,
) -> Iterator[Handset]:
    with rig(directory, **host_rules) as made:
        config_path = write_config(
            directory / "terminal", made.host.port, response_timeout=1.0, extra_toml=extra_toml
        )
        text = config_path.read_text(encoding="utf-8")
        for old, new in (replace or {}).items():
            text = text.replace(old, new)
        config_path.write_text(text, encoding="utf-8")
        made.config_path = config_path
        add_operators(config_path)
        keypad = SimKeypad(pin=pin)
        reader = SimCardReader("sim-reader")
        printer = SimPrinter()
        magstripe = SimMagstripe()
        display = SimDisplay(16, 4)
        clock = Clock()
        terminal = open_terminal(
            load_config(config_path),
            devices={
                "keypad": keypad,
                "contact_reader": reader,
                "printer": printer,
                "magstripe": magstripe,
            },
        )
        try:
            terminal.boot(sign_on=True)
            ui = Attended(terminal.ports, display, clock=clock)
            runner = Runner(terminal, ui)
            ui.start()
            yield Handset(
                made, terminal, runner, ui, keypad, display, reader, printer, magstripe, clock
            )
        finally:
            terminal.close()
