"""`posterm update`: verify and apply a firmware bundle."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "update", 8, "verify and apply a firmware bundle")
