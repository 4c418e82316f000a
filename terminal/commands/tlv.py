"""`posterm tlv`: decode BER-TLV into a named tree."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "tlv", 3, "decode BER-TLV into a named tree")
