"""`posterm bundle`: build a signed firmware bundle."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "bundle", 8, "build a signed firmware bundle")
