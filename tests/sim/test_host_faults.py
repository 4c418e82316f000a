"""Every fault mode of sim.host exercised over real TCP (issue 5 acceptance)."""

from __future__ import annotations

import contextlib
import itertools
import socket
import time

import iso8583
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iso8583.specs import default as spec_default

from sim.host import Fault, HostSimulator, rules_from_dict
from tests.sim.test_host_client import TEST_BDK, Client, check_response, de48, encode_request
from tests.sim.test_host_tcp import RULES, VISA, _reversal


@pytest.fixture
def host(tmp_path):  # type: ignore[no-untyped-def]
    with HostSimulator(rules_from_dict(RULES), tmp_path / "ledger.db", TEST_BDK) as sim:
        yield sim


@pytest.fixture
def client(host):  # type: ignore[no-untyped-def]
    c = Client(host.port, timeout=2.0).connect()
    yield c
    c.close()


def _sale_no_wait(client: Client, amount: int = 100) -> dict[str, str]:
    """Send a MACed sale and return its fields, without reading the answer."""

    fields = client.base("0200", **{"2": VISA, "3": "000000", "4": f"{amount:012d}"})
    ksn = client.next_ksn()
    fields["48"] = de48(KS=ksn)
    client.send_raw(encode_request(fields, ksn))
    return fields


def test_refuse_connection_then_recover(host: HostSimulator) -> None:
    host.faults.refuse(0.6)
    deadline = time.monotonic() + 2
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            socket.create_connection(("127.0.0.1", host.port), timeout=0.5).close()
            time.sleep(0.02)
        except ConnectionRefusedError:
            refused = True
    assert refused
    deadline = time.monotonic() + 5
    while True:  # the listener comes back on the same port once the window is over
        try:
            c = Client(host.port).connect()
            break
        except ConnectionRefusedError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    try:
        assert c.sale(VISA, 100).rc == "00"
    finally:
        c.close()


def test_delay_answers_late(client: Client, host: HostSimulator) -> None:
    host.faults.next(Fault.DELAY, seconds=0.4, mti="0200")
    start = time.monotonic()
    resp = client.sale(VISA, 100)
    assert resp.rc == "00" and time.monotonic() - start >= 0.4
    assert host.faults.fired == [(Fault.DELAY, "0200")] and host.faults.pending() == 0


def test_never_answer_then_reverse(client: Client, host: HostSimulator) -> None:
    host.faults.next("never", mti="0200")
    assert client.sock is not None
    client.sock.settimeout(0.3)
    sale = _sale_no_wait(client, 4200)
    with pytest.raises(TimeoutError):
        client.read_frame()
    assert len(host.ledger.charges(pan=VISA)) == 1  # processed, answer withheld
    client.sock.settimeout(2.0)
    rev = _reversal(client, sale)
    assert rev.fields["t"] == "0410" and rev.rc == "00"
    assert host.ledger.charges(pan=VISA) == []


def test_never_without_processing_records_nothing(client: Client, host: HostSimulator) -> None:
    host.faults.next(Fault.NEVER, mti="0200", process=False)
    assert client.sock is not None
    client.sock.settimeout(0.3)
    _sale_no_wait(client)
    with pytest.raises(TimeoutError):
        client.read_frame()
    assert host.ledger.transactions() == []


def test_drop_mid_frame(client: Client, host: HostSimulator) -> None:
    host.faults.next(Fault.DROP, mti="0200")
    _sale_no_wait(client)
    with pytest.raises(ConnectionError, match="short read"):
        client.read_frame()


def test_garbled_response_does_not_decode(client: Client, host: HostSimulator) -> None:
    host.faults.next(Fault.GARBLE)
    _sale_no_wait(client)
    payload = client.read_frame()
    with pytest.raises(iso8583.DecodeError):
        iso8583.decode(payload, spec_default)


def test_bad_mac_response(client: Client, host: HostSimulator) -> None:
    host.faults.next(Fault.BAD_MAC, mti="0200")
    resp = client.sale(VISA, 100)
    assert resp.mac_ok is False and resp.rc == "00"
    assert client.sale(VISA, 100).mac_ok is True


def test_reply_after_reversal_same_connection(client: Client, host: HostSimulator) -> None:
    reply_after_reversal_same_connection(client, host)


def test_reply_after_reversal_other_connection(client: Client, host: HostSimulator) -> None:
    reply_after_reversal_other_connection(client, host, Client)


def reply_after_reversal_same_connection(client: Client, host: HostSimulator) -> None:
    """The held 0210 arrives just before the 0410, both on the reversal's connection
    (also run over TLS by tests/sim/test_host_tls.py)."""
    host.faults.next(Fault.AFTER_REVERSAL, mti="0200")
    assert client.sock is not None
    client.sock.settimeout(0.3)
    sale = _sale_no_wait(client, 900)
    with pytest.raises(TimeoutError):
        client.read_frame()
    client.sock.settimeout(2.0)
    de90 = "0200" + sale["11"] + "1125101500" + "0" * 22
    rev_fields = client.base("0400", **{"2": VISA, "3": "000000", "4": "000000000900", "90": de90})

    ksn = client.next_ksn()
    rev_fields["48"] = de48(KS=ksn)
    client.send_raw(encode_request(rev_fields, ksn))
    first = iso8583.decode(client.read_frame(), spec_default)[0]
    second = check_response(client.read_frame(), ksn)
    assert first["t"] == "0210" and first["11"] == sale["11"]  # the late answer
    assert second.fields["t"] == "0410" and second.rc == "00" and second.mac_ok
    assert host.ledger.charges(pan=VISA) == []


def reply_after_reversal_other_connection(
    client: Client, host: HostSimulator, client_type: type[Client]
) -> None:
    """The 0400 comes on another connection; the held 0210 goes out on the original."""
    host.faults.next(Fault.AFTER_REVERSAL, mti="0200")
    sale = _sale_no_wait(client, 901)
    deadline = time.monotonic() + 5
    while not host.ledger.charges(pan=VISA) and time.monotonic() < deadline:
        time.sleep(0.01)  # the sale is processed (and its answer held) before the 0400
    other = client_type(
        host.port, tid=client.tid, stan=client.stan, ksn_counter=client.ksn_counter
    ).connect()
    try:
        assert _reversal(other, sale).rc == "00"
        assert client.sock is not None
        client.sock.settimeout(2.0)
        late = iso8583.decode(client.read_frame(), spec_default)[0]
        assert late["t"] == "0210" and late["11"] == sale["11"]
    finally:
        other.close()
    assert host.ledger.charges(pan=VISA) == []


def test_declines_switch(client: Client, host: HostSimulator) -> None:
    host.faults.declines = True
    assert client.sale(VISA, 100).rc == "05"
    host.faults.declines = False
    assert client.sale(VISA, 100).rc == "00"


def test_faults_from_rules_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rules = dict(RULES, faults=[{"mode": "bad_mac", "mti": "0200", "count": 2}])
    with HostSimulator(rules_from_dict(rules), tmp_path / "l.db", TEST_BDK) as sim:
        c = Client(sim.port).connect()
        try:
            assert (
                c.exchange(c.base("0800", **{"70": "301"}), mac=False).rc == "00"
            )  # 0800 untouched
            assert [c.sale(VISA, 1).mac_ok for _ in range(3)] == [False, False, True]
        finally:
            c.close()
        assert sim.faults.fired == [(Fault.BAD_MAC, "0200"), (Fault.BAD_MAC, "0200")]


def test_clear_disarms(host: HostSimulator, client: Client) -> None:
    host.faults.next(Fault.NEVER, count=3)
    host.faults.clear()
    assert host.faults.pending() == 0 and client.sale(VISA, 1).rc == "00"


_FRESH = itertools.count(1)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=120))
def test_garbage_requests_never_kill_the_host(host: HostSimulator, payload: bytes) -> None:
    """Any payload: the host answers or closes that link, and keeps serving others."""
    c = Client(host.port, timeout=2.0).connect()
    try:
        c.send_raw(payload)
        with contextlib.suppress(ConnectionError, OSError):
            c.read_frame()
    finally:
        c.close()
    fresh = Client(host.port, tid=f"FR{next(_FRESH):06d}").connect()
    try:
        assert fresh.sale(VISA, 1).rc == "00"
    finally:
        fresh.close()


def test_scripts_that_do_not_fit_de55_are_dropped(client: Client, host: HostSimulator) -> None:
    from tests.sim.test_host_tcp import _chip_sale

    host.scripts.next(
        ["put_data:9F4F:" + "AB" * 100, "put_data:9F4F:" + "CD" * 100], tag=0x72, pan_prefix="1234"
    )
    resp = _chip_sale(client)
    assert resp.rc == "00" and resp.mac_ok and len(bytes.fromhex(resp.fields["55"])) <= 255
