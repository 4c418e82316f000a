"""`posterm pay`: run one transaction and print its JSON result."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "pay", 8, "run one transaction and print its JSON result")
