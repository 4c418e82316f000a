"""TTY display layout for small screens; the sim display shares the layout."""

from __future__ import annotations

import io

import pytest

from hal.display import TtyDisplay, layout
from hal.ports import Align, TextLine
from sim.devices import SimDisplay


@pytest.mark.parametrize(("columns", "rows"), [(16, 4), (21, 8), (32, 10)])
def test_layout_is_exactly_the_screen(columns: int, rows: int) -> None:
    screen = layout(["x" * 50, TextLine("AMOUNT", Align.RIGHT)] + ["l"] * 20, columns, rows)
    assert len(screen) == rows and all(len(row) == columns for row in screen)
    assert screen[0] == "x" * columns and screen[1].endswith("AMOUNT")


def test_control_characters_never_reach_the_tty() -> None:
    stream = io.StringIO()
    display = TtyDisplay(stream, 16, 4)
    display.show(["a\x1b[2Jb", TextLine("PIN", Align.CENTER, bold=True)])
    assert display.current[0].startswith("a?[2Jb")
    assert "\x1b[2J" not in stream.getvalue() and "\x1b[1m" in stream.getvalue()


def test_tty_and_sim_agree() -> None:
    lines = ["SALE", TextLine("12.34", Align.RIGHT), TextLine("INSERT CARD", Align.CENTER)]
    tty = TtyDisplay(io.StringIO(), 16, 4)
    sim = SimDisplay(16, 4)
    tty.show(lines)
    sim.show(lines)
    assert tuple(tty.current) == sim.current
