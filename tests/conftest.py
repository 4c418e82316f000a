"""Shared fixtures: real pcscd + vpcd, socat ptys, hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.services import VPCD_READER, ensure_pcscd, pty_pair, vpcd_lock

# CI runs the heavy profile: at least 10,000 examples for codec properties that ask for it.
settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "dev")


@pytest.fixture
def pcscd() -> Iterator[str]:
    """A running pcscd showing vpcd's readers; yields the first reader's name.

    vpcd's ports are fixed per machine, so a file lock serialises every test that
    uses them, across pytest processes too.
    """
    ensure_pcscd()
    with vpcd_lock():
        yield VPCD_READER


@pytest.fixture
def ptys(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with pty_pair(tmp_path) as pair:
        yield pair
