"""Real services the tests stand on: pcscd with vsmartcard-vpcd, and socat ptys.

Locally a missing service skips the tests that need it; under CI=true it fails
them, because CI must prove the real PC/SC and serial paths every time.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PCSCD_PID = Path("/run/pcscd/pcscd.pid")
PCSCD_COMM = Path("/run/pcscd/pcscd.comm")
VPCD_READER = "Virtual PCD 00 00"
VPCD_READER_2 = "Virtual PCD 00 01"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(what: str) -> None:
    """Skip locally, fail in CI."""
    if in_ci():
        pytest.fail(f"{what} is required under CI=true", pytrace=False)
    pytest.skip(f"{what} not available")


def _pcscd_alive() -> bool:
    try:
        pid = int(PCSCD_PID.read_bytes().rstrip(b"\0\n").split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError, IndexError):
        return False
    return b"pcscd" in cmdline and ") Z" not in stat


def _readers() -> list[str]:
    from smartcard.System import readers

    try:
        return [str(reader) for reader in readers()]
    except Exception:  # noqa: BLE001 - pyscard raises several types when pcscd is absent
        return []


def ensure_pcscd() -> None:
    """Start pcscd (foreground mode, detached) unless a live one runs already."""
    if shutil.which("pcscd") is None:
        unavailable("pcscd (apt package pcscd)")
    if not Path("/etc/reader.conf.d/vpcd").exists():
        unavailable("vsmartcard-vpcd (apt package vsmartcard-vpcd)")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        unavailable("pyscard")
    if not _pcscd_alive():
        for stale in (PCSCD_PID, PCSCD_COMM):
            stale.unlink(missing_ok=True)
        log = open("/tmp/posterm-pcscd.log", "ab")  # noqa: SIM115 - owned by the daemon
        subprocess.Popen(
            ["pcscd", "--foreground"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(name.startswith(VPCD_READER) for name in _readers()):
            return
        time.sleep(0.05)
    unavailable("pcscd did not show the vpcd reader within 10 s")


def ensure_socat() -> str:
    path = shutil.which("socat")
    if path is None:
        unavailable("socat (apt package socat)")
    assert path is not None
    return path


@contextmanager
def pty_pair(directory: Path) -> Iterator[tuple[str, str]]:
    """Two linked raw ptys made by a real socat; yields their paths."""
    socat = ensure_socat()
    side_a = directory / "pty-a"
    side_b = directory / "pty-b"
    process = subprocess.Popen(
        [
            socat,
            "-d",
            "-d",
            f"pty,raw,echo=0,link={side_a}",
            f"pty,raw,echo=0,link={side_b}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while not (side_a.exists() and side_b.exists()):
            if time.monotonic() > deadline or process.poll() is not None:
                unavailable("socat pty pair")
            time.sleep(0.005)
        yield str(side_a), str(side_b)
    finally:
        process.terminate()
        process.wait(timeout=5)


@contextmanager
def vpcd_lock() -> Iterator[None]:
    """Exclusive use of vpcd's fixed ports (35963/35964) on this machine."""
    with open("/tmp/posterm-vpcd.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def wait_until_reader_empty(reader: str, timeout: float = 3.0) -> bool:
    """Block until pcscd reports no card in ``reader`` (or ``timeout`` passes).

    vpcd polls its card about every 400 ms: a new virtual card that connects before
    pcscd saw the previous one leave is never powered (no insertion event), so each
    test that used vpcd hands the reader on empty.
    """
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    try:
        states = [(reader, scard.SCARD_STATE_UNAWARE)]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hresult, new_states = scard.SCardGetStatusChange(context, 200, states)
            if hresult not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
                return False
            if hresult == scard.SCARD_S_SUCCESS:
                name, event, _atr = new_states[0]
                if event & scard.SCARD_STATE_EMPTY:
                    return True
                states = [(name, event & ~scard.SCARD_STATE_CHANGED)]
        return False
    finally:
        scard.SCardReleaseContext(context)
