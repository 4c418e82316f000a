"""`posterm certify`: run the certification suite."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "certify", 6, "run the certification suite")
