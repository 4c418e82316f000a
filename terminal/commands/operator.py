"""`posterm operator`: manage operators and roles."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "operator", 8, "manage operators and roles")
