"""`posterm run`: the terminal as a long-running process with the ECR interface."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "run", 8, "the terminal as a long-running process (ECR interface)")
