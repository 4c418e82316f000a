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


def test_tty_keypad_reads_keys_and_honours_pin_mode() -> None:
    import os

    from hal.display import TtyKeypad
    from hal.events import EventQueue, Key, KeyPressed

    read_fd, write_fd = os.pipe()
    keypad = TtyKeypad(read_fd)
    queue = EventQueue()
    keypad.attach(queue)
    got: list[Key] = []

    class Sink:
        def pin_key(self, key: Key) -> None:
            got.append(key)

    try:
        os.write(write_fd, b"12z\r")
        keys = [queue.get(2), queue.get(2), queue.get(2)]
        assert [e.key for e in keys if isinstance(e, KeyPressed)] == [Key.D1, Key.D2, Key.ENTER]
        keypad.set_pin_sink(Sink())
        os.write(write_fd, b"9\x1b")
        assert queue.get(0.3) is None
        assert got == [Key.D9, Key.CANCEL]
    finally:
        keypad.close()
        os.close(write_fd)
        os.close(read_fd)
