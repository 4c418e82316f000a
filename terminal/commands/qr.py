"""`posterm qr`: decode EMVCo QR payloads."""

from __future__ import annotations

from typing import Any

from terminal.commands import register_pending


def register(subparsers: Any) -> None:
    register_pending(subparsers, "qr", 8, "decode EMVCo QR payloads")
