"""`posterm states`: print the state machine."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "states", 8, "print the state machine")
