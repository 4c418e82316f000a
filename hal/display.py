"""Text display on a TTY (ANSI), modelling the small screens of POS handsets.

The screen is ``columns`` × ``rows`` characters (16×4, 21×8, 32×10 are typical);
lines longer than the screen are cut, extra lines dropped — the same layout the
simulator's display records, so a flow looks identical on both.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, TextIO

from hal.errors import HalError
from hal.ports import Align, TextLine

SIZES = {"16x4": (16, 4), "21x8": (21, 8), "32x10": (32, 10)}

CSI = "\x1b["


class DisplayError(HalError):
    """The display could not be written (which device, what failed)."""


def layout(lines: Sequence[str | TextLine], columns: int, rows: int) -> list[str]:
    """Exactly ``rows`` strings of exactly ``columns`` characters."""
    out: list[str] = []
    for line in list(lines)[:rows]:
        item = line if isinstance(line, TextLine) else TextLine(line)
        text = "".join(ch if ch.isprintable() else "?" for ch in item.text)[:columns]
        if item.align is Align.CENTER:
            text = text.center(columns)
        elif item.align is Align.RIGHT:
            text = text.rjust(columns)
        out.append(text.ljust(columns))
    out.extend(" " * columns for _ in range(rows - len(out)))
    return out


class TtyDisplay:
    """The Display port drawn with ANSI escapes at the top-left of a terminal.

    Raises DisplayError when the stream cannot be written.
    """

    def __init__(self, stream: TextIO | None = None, columns: int = 21, rows: int = 8) -> None:
        self.stream = stream or sys.stdout
        self.columns = columns
        self.rows = rows
        self.current: list[str] = layout([], columns, rows)
        self._lock = threading.Lock()

    def show(self, lines: Sequence[str | TextLine]) -> None:
        screen = layout(lines, self.columns, self.rows)
        styled = list(lines)[: self.rows]
        parts = [f"{CSI}H"]
        for row, text in enumerate(screen):
            item = styled[row] if row < len(styled) else None
            style = ""
            if isinstance(item, TextLine):
                style = (
                    ("1;" if item.bold else "")
                    + ("4;" if item.underline else "")
                    + ("7;" if item.inverse else "")
                )
            parts.append(f"{CSI}{row + 1};1H")
            parts.append(f"{CSI}{style.rstrip(';')}m{text}{CSI}0m" if style else text)
        with self._lock:
            self.current = screen
            try:
                self.stream.write("".join(parts))
                self.stream.flush()
            except (OSError, ValueError) as error:
                raise DisplayError(f"cannot write the display: {error}") from None

    def clear(self) -> None:
        self.show([])

    def close(self) -> None:
        if self.stream not in (sys.stdout, sys.stderr):
            self.stream.close()


def open_url(kind: str, url: Any, **options: Any) -> TtyDisplay:
    """``tty://`` (stdout) or ``tty:///dev/tty2?size=16x4``."""
    query = {**url.query, **{k: str(v) for k, v in options.items() if k != "stream"}}
    columns, rows = SIZES.get(query.get("size", "21x8"), (21, 8))
    columns = int(query.get("columns", columns))
    rows = int(query.get("rows", rows))
    stream = options.get("stream")
    path = url.path or url.target
    if stream is None and path:
        try:
            stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 - owned by the display
        except OSError as error:
            raise DisplayError(f"cannot open {path}: {error.strerror}") from None
    return TtyDisplay(stream, columns, rows)


class TtyKeypad:
    """Keys typed on a TTY (digits, Enter, Backspace, Esc=cancel, c=clear), for a bench
    handset without a matrix keypad. Reads on a thread; honours secure PIN mode."""

    KEYMAP: ClassVar[dict[str, str]] = {
        "\r": "ENTER",
        "\n": "ENTER",
        "\x7f": "BACKSPACE",
        "\x08": "BACKSPACE",
        "\x1b": "CANCEL",
        "c": "CLEAR",
    }

    def __init__(self, fd: int | None = None) -> None:
        from hal.keyrouter import KeyRouter

        self.fd = sys.stdin.fileno() if fd is None else fd
        self.router = KeyRouter("tty-keypad")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, queue: Any) -> None:
        self.router.attach(queue)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="hal-tty-keypad")
            self._thread.start()

    def set_pin_sink(self, sink: Any) -> None:
        self.router.set_pin_sink(sink)

    def _run(self) -> None:
        from hal.events import Key

        while not self._stop.is_set():
            try:
                data = os.read(self.fd, 1)
            except OSError:
                return
            if not data:
                return
            char = data.decode("latin-1")
            label = self.KEYMAP.get(char, char)
            try:
                key = Key.parse(label)
            except (KeyError, ValueError):
                continue
            self.router.press(key)

    def close(self) -> None:
        self._stop.set()


def open_keypad_url(kind: str, url: Any, **options: Any) -> TtyKeypad:
    return TtyKeypad()
