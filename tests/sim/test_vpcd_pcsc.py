"""Virtual cards behind real pcscd + vsmartcard-vpcd, reached by pyscard exactly as a
USB reader would be: SELECT PSE/PPSE, GPO, READ RECORD and GENERATE AC over PC/SC,
a card pulled mid-transaction, and `posterm sim card PROFILE --vpcd` as a process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from sim import vpcd
from sim.card import Faults, VirtualCard, load_profile
from tests.sim.test_card_kit import PPSE, PSE, fill_dol, terminal_values, tlv_flat, tlv_items
from tests.sim.test_vpicc_pcsc import _connect

pytestmark = [
    pytest.mark.pcsc,
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning"),
]


def _tx(connection, command: bytes) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    data, sw1, sw2 = connection.transmit(list(command))
    if sw1 == 0x61:  # T=0 style: fetch the response
        data, sw1, sw2 = connection.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
    return bytes(data), sw1 << 8 | sw2


def _select(name: bytes) -> bytes:
    return bytes([0x00, 0xA4, 0x04, 0x00, len(name)]) + name + b"\x00"


def _transaction(connection, directory: bytes) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    fci, sw = _tx(connection, _select(directory))
    assert sw == 0x9000
    if directory == PSE:
        entry, sw = _tx(connection, bytes.fromhex("00B2010C00"))
        assert sw == 0x9000
        aid = tlv_flat(entry)["4F"]
    else:
        aid = tlv_flat(fci)["4F"]
    fci, sw = _tx(connection, _select(aid))
    assert sw == 0x9000
    values = terminal_values()
    pdol = fill_dol(tlv_flat(fci).get("9F38", b""), values)
    gpo, sw = _tx(
        connection, bytes([0x80, 0xA8, 0, 0, len(pdol) + 2, 0x83, len(pdol)]) + pdol + b"\x00"
    )
    assert sw == 0x9000
    tag, value = tlv_items(gpo)[0]
    afl = value[2:] if tag == "80" else tlv_flat(gpo)["94"]
    data: dict[str, bytes] = {}
    for i in range(0, len(afl), 4):
        for number in range(afl[i + 1], afl[i + 2] + 1):
            record, sw = _tx(connection, bytes([0x00, 0xB2, number, afl[i] | 4, 0x00]))
            assert sw == 0x9000
            tlv_flat(record, data)
    cdol1 = fill_dol(data["8C"], values)
    response, sw = _tx(connection, bytes([0x80, 0xAE, 0x80, 0x00, len(cdol1)]) + cdol1 + b"\x00")
    assert sw == 0x9000
    data["GENAC"] = response
    return data


@pytest.mark.parametrize(("name", "directory"), [("visa-cda", PSE), ("mc-contactless", PPSE)])
def test_pyscard_runs_a_transaction_through_pcscd(pcscd: str, name: str, directory: bytes) -> None:
    card = VirtualCard(load_profile(name))
    link = vpcd.start(card)
    try:
        connection = _connect(pcscd)
        try:
            assert bytes(connection.getATR()) == card.atr
            data = _transaction(connection, directory)
            assert data["5A"].hex().upper().startswith(card.profile.applications[0].pan)
            body = data["GENAC"]
            cid = tlv_items(body)[0][1][0] if body[0] == 0x80 else tlv_flat(body)["9F27"][0]
            assert cid == 0x80
            assert card.last_arqc_data["9F26"] in body
        finally:
            connection.disconnect()
    finally:
        link.stop()
    assert link.error is None


def test_card_pulled_mid_transaction_is_seen_by_pyscard(pcscd: str) -> None:
    from smartcard.Exceptions import CardConnectionException

    card = VirtualCard(load_profile("visa-cda"), faults=Faults(pull_after=3))
    link = vpcd.start(card)
    try:
        connection = _connect(pcscd)
        try:
            assert _tx(connection, _select(PSE))[1] == 0x9000
            assert _tx(connection, bytes.fromhex("00B2010C00"))[1] == 0x9000
            with pytest.raises(CardConnectionException):
                _tx(connection, _select(bytes.fromhex("A0000000031010")))
        finally:
            with contextlib.suppress(CardConnectionException):
                connection.disconnect()
    finally:
        link.stop()


def test_posterm_sim_card_cli_serves_until_interrupted(pcscd: str) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "terminal.cli",
            "sim",
            "card",
            "visa-sda",
            "--vpcd",
            "--port",
            "35963",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    from smartcard.Exceptions import CardConnectionException

    try:
        deadline = time.monotonic() + 10
        while True:  # pcscd may still show the previous test's card for a moment
            connection = _connect(pcscd, timeout=10)
            try:
                fci, sw = _tx(connection, _select(bytes.fromhex("A0000000032010")))
                break
            except CardConnectionException:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
            finally:
                with contextlib.suppress(CardConnectionException):
                    connection.disconnect()
        assert sw == 0x9000 and tlv_flat(fci)["50"] == b"VISA DEBIT"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, err.decode()
