"""Simulated devices by URL (``sim://...``), for the posterm.drivers entry point."""

from __future__ import annotations

from typing import Any

from sim.errors import SimError


def open_device(kind: str, url: str, **options: Any) -> Any:
    """Open the simulated device of ``kind`` named by ``url`` (filled in by issue #5/#7)."""
    raise SimError(f"no simulated {kind} for {url!r} yet")
