"""`posterm settle`: close the batch with the host."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "settle", 8, "close the batch with the host")
