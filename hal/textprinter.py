"""Receipts as plain text: the ``file://`` and ``stdout`` printers, and the renderer
the simulated printer shares. Styles a text file cannot show are dropped; double
width is shown by spacing letters out so the receipt still reads the same."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from hal.errors import PrinterError
from hal.events import PrinterStatus
from hal.ports import Align, Cut, Feed, PrintItem, QrCode, TextLine

DEFAULT_COLUMNS = 32  # 58 mm paper, font A


def _aligned(text: str, align: Align, columns: int) -> str:
    text = text[:columns]
    if align is Align.CENTER:
        return text.center(columns).rstrip()
    if align is Align.RIGHT:
        return text.rjust(columns)
    return text


def render_text(items: Sequence[PrintItem], columns: int = DEFAULT_COLUMNS) -> str:
    """The receipt as lines of at most ``columns`` characters, ending with a newline."""
    out: list[str] = []
    for item in items:
        if isinstance(item, TextLine):
            text = " ".join(item.text) if item.double_width else item.text
            width = columns
            out.append(_aligned(text, item.align, width))
        elif isinstance(item, QrCode):
            out.append(_aligned(f"[QR {item.data}]", Align.CENTER, columns))
        elif isinstance(item, Feed):
            out.extend([""] * item.lines)
        elif isinstance(item, Cut):
            out.append("-" * columns)
        else:
            raise PrinterError(f"cannot print a {type(item).__name__}: not a hal.ports PrintItem")
    return "\n".join(out) + "\n"


class TextPrinter:
    """Appends rendered receipts to a text file, or writes them to a stream."""

    def __init__(
        self,
        path: str | Path | None = None,
        stream: TextIO | None = None,
        columns: int = DEFAULT_COLUMNS,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.stream = stream
        self.columns = columns
        self._lock = threading.Lock()

    def status(self) -> PrinterStatus:
        return PrinterStatus.OK

    def print(self, items: Sequence[PrintItem]) -> PrinterStatus:
        """Raises PrinterError when the file cannot be written."""
        text = render_text(items, self.columns)
        with self._lock:
            if self.path is not None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    with self.path.open("a", encoding="utf-8") as handle:
                        handle.write(text)
                except OSError as error:
                    raise PrinterError(
                        f"cannot write receipt file {self.path}: {error.strerror}"
                    ) from None
            else:
                stream = self.stream or sys.stdout
                stream.write(text)
                stream.flush()
        return PrinterStatus.OK

    def close(self) -> None:
        pass


def open_url(kind: str, url: Any, **options: Any) -> TextPrinter:
    columns = int(options.get("columns", url.query.get("columns", DEFAULT_COLUMNS)))
    if url.scheme == "stdout":
        return TextPrinter(stream=options.get("stream"), columns=columns)
    return TextPrinter(path=url.path or url.target, columns=columns)
