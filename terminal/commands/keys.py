"""`posterm keys`: inject, list and erase keys."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "keys", 4, "inject, list and erase keys")
