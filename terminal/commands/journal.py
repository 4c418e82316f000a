"""`posterm journal`: list journaled transactions."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "journal", 8, "list journaled transactions")
