"""`posterm replay`: replay a recorded APDU trace."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "replay", 6, "replay a recorded APDU trace")
