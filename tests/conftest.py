"""Shared fixtures: real pcscd + vpcd, socat ptys, hypothesis profiles."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.services import (
    VPCD_READER,
    ensure_pcscd,
    pty_pair,
    vpcd_lock,
    wait_until_reader_empty,
)

# CI runs the heavy profile: at least 10,000 examples for codec properties that ask for it.
VPCD_POLL_SECONDS = 0.5

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
        wait_until_reader_empty(VPCD_READER)
        yield VPCD_READER
        wait_until_reader_empty(VPCD_READER)
        # vpcd polls its card every ~400 ms; a card that connects within that window
        # after the last one left is never powered (measured), so let one poll pass.
        time.sleep(VPCD_POLL_SECONDS)


@pytest.fixture
def ptys(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with pty_pair(tmp_path) as pair:
        yield pair
