"""sim.host over TLS 1.2+ (host-spec "Transport"), with the terminal side for real:
terminal.hostmsg.HostClient and the whole firmware configured with ``tls://`` and
``[host] pin_sha256``, against a self-signed certificate made in the test."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sim.demo import BDK, DEMO_PASSWORD, add_admin, demo_rules, inject_dukpt, write_config
from sim.host import Fault, HostError, HostSimulator, load_rules, rules_from_dict
from sim.host.errors import TlsError
from sim.host.tls import certificate_pin, server_context
from terminal.hostmsg import Acceptor, HostClient, HostClientSettings, network_management
from terminal.hostmsg.client import NoValidResponse, Response
from terminal.journal import Journal
from tests.hal.test_hostlink import make_cert
from tests.sim.test_host_client import Client
from tests.sim.test_host_faults import (
    reply_after_reversal_other_connection,
    reply_after_reversal_same_connection,
)
from tests.sim.test_host_tcp import RULES, VISA
from tests.terminal.flowrig import Rig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "sim" / "host" / "rules-example.toml"
PAN = "4761739001010044"  # visa-online-pin TEST card
WHEN = dt.datetime(2026, 11, 25, 9, 30, 15)
ECHO = network_management(
    "echo", stan="000001", acceptor=Acceptor("TERM0001", "MERCHANT0000001"), when=WHEN
)


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path, str]:
    return make_cert(tmp_path)


@pytest.fixture
def tls_host(tmp_path: Path, cert: tuple[Path, Path, str]) -> Iterator[HostSimulator]:
    cert_path, key_path, _ = cert
    with HostSimulator(
        load_rules(EXAMPLE), tmp_path / "ledger.db", BDK, tls_cert=cert_path, tls_key=key_path
    ) as host:
        yield host


def client(port: int, pin: bytes) -> HostClient:
    return HostClient(HostClientSettings("127.0.0.1", port, 3.0, 3.0, pin_sha256=pin))


# --- the listener and its pin ---


def test_pin_is_sha256_of_the_der_certificate(cert: tuple[Path, Path, str]) -> None:
    cert_path, _, pin = cert
    der = x509.load_pem_x509_certificate(cert_path.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    assert certificate_pin(cert_path) == hashlib.sha256(der).hexdigest() == pin


def test_host_client_pinned_tls(tls_host: HostSimulator, cert: tuple[Path, Path, str]) -> None:
    """Right pin: the exchange goes through; wrong pin: nothing is sent (sent=False)."""
    assert tls_host.pin_sha256 == cert[2]
    good = client(tls_host.port, bytes.fromhex(cert[2]))
    outcome = good.exchange(ECHO, None)
    assert isinstance(outcome, Response) and outcome.code == "00"
    bad = client(tls_host.port, bytes(32))
    outcome = bad.exchange(ECHO, None)
    assert isinstance(outcome, NoValidResponse) and not outcome.sent and "pinned" in outcome.reason
    inbound = [m for m in tls_host.ledger.messages() if m["direction"] == "in" and m["mti"]]
    assert [m["mti"] for m in inbound] == ["0800"]  # the refused client sent nothing


def test_plain_tcp_to_tls_listener_gets_nothing(tls_host: HostSimulator) -> None:
    """A plaintext frame is not a TLS ClientHello: the host closes without answering and
    keeps serving others."""
    with socket.create_connection(("127.0.0.1", tls_host.port), timeout=5) as raw:
        raw.sendall(bytes.fromhex("0004") + b"0800")
        with suppress(ConnectionResetError):
            assert raw.recv(64) == b""
    outcome = client(tls_host.port, bytes.fromhex(tls_host.pin_sha256 or "")).exchange(ECHO, None)
    assert isinstance(outcome, Response) and outcome.code == "00"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls_below_1_2_refused(tls_host: HostSimulator, cert: tuple[Path, Path, str]) -> None:
    """A TLS 1.1 client (its own security level lowered so that it really offers 1.1) is
    refused by the host with a protocol-version alert."""
    assert server_context(cert[0], cert[1]).minimum_version is ssl.TLSVersion.TLSv1_2
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.minimum_version = ssl.TLSVersion.TLSv1_1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    raw = socket.create_connection(("127.0.0.1", tls_host.port), timeout=5)
    with raw, pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
        old.wrap_socket(raw, server_hostname="acquirer.test")


def test_tls_configuration_errors(tmp_path: Path, cert: tuple[Path, Path, str]) -> None:
    ledger = tmp_path / "l.db"
    with pytest.raises(HostError, match="needs its certificate"):
        HostSimulator(load_rules(EXAMPLE), ledger, BDK, tls_key=cert[1])
    (tmp_path / "other").mkdir()
    other = make_cert(tmp_path / "other")
    with pytest.raises(TlsError, match="unusable"):  # key of another certificate
        HostSimulator(load_rules(EXAMPLE), ledger, BDK, tls_cert=cert[0], tls_key=other[1])
    with pytest.raises(TlsError, match="no PEM certificate"):
        certificate_pin(cert[1])


# --- fault modes through the raw test client wrapped in TLS ---


class TlsClient(Client):
    """tests/sim/test_host_client.py's client inside TLS (the pin is checked above)."""

    def connect(self) -> TlsClient:
        super().connect()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        assert self.sock is not None
        self.sock = context.wrap_socket(self.sock, server_hostname="acquirer.test")
        return self


@pytest.fixture
def fault_host(tmp_path: Path, cert: tuple[Path, Path, str]) -> Iterator[HostSimulator]:
    with HostSimulator(
        rules_from_dict(RULES), tmp_path / "ledger.db", BDK, tls_cert=cert[0], tls_key=cert[1]
    ) as host:
        yield host


def test_reply_after_reversal_other_tls_connection(fault_host: HostSimulator) -> None:
    """The held answer goes out on the original TLS connection, sent by that
    connection's own thread (one SSL object is never used by two threads)."""
    client = TlsClient(fault_host.port, timeout=2.0).connect()
    try:
        reply_after_reversal_other_connection(client, fault_host, TlsClient)
    finally:
        client.close()


def test_reply_after_reversal_same_tls_connection(fault_host: HostSimulator) -> None:
    client = TlsClient(fault_host.port, timeout=2.0).connect()
    try:
        reply_after_reversal_same_connection(client, fault_host)
    finally:
        client.close()


def test_refuse_and_delay_over_tls(fault_host: HostSimulator) -> None:
    fault_host.faults.refuse(0.6)
    time.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):
        TlsClient(fault_host.port).connect()
    time.sleep(0.8)
    client = TlsClient(fault_host.port, timeout=3.0).connect()
    try:
        fault_host.faults.next(Fault.DELAY, seconds=0.5, mti="0200")
        started = time.monotonic()
        answer = client.sale(VISA, 100)
        assert answer.rc == "00" and answer.mac_ok and time.monotonic() - started >= 0.5
    finally:
        client.close()


# --- the whole terminal over pinned TLS ---


@contextmanager
def tls_rig(directory: Path, pin: str | None = None) -> Iterator[Rig]:
    """flowrig's rig, with the host behind TLS and the terminal's [host] url tls:// +
    pin_sha256 (``pin`` overrides the right one)."""
    cert_path, key_path, right = make_cert(directory)
    with HostSimulator(
        rules_from_dict(demo_rules()),
        directory / "ledger.db",
        BDK,
        tls_cert=cert_path,
        tls_key=key_path,
    ) as host:
        config_path = write_config(directory / "terminal", host.port, response_timeout=1.0)
        text = config_path.read_text(encoding="utf-8")
        plain = f'url = "tcp://127.0.0.1:{host.port}"'
        assert plain in text
        pinned = f'url = "tls://127.0.0.1:{host.port}"\npin_sha256 = "{pin or right}"'
        config_path.write_text(text.replace(plain, pinned), encoding="utf-8")
        inject_dukpt(config_path)
        add_admin(config_path, "admin", DEMO_PASSWORD)
        os.environ["POSTERM_PASSWORD"] = DEMO_PASSWORD
        yield Rig(directory, host, config_path)


def test_chip_sale_with_pin_over_pinned_tls(tmp_path: Path) -> None:
    with tls_rig(tmp_path) as r:
        result = r.pay(type="sale", amount=1250, entry="chip")
        assert result["decision"] == "approved", result
        assert result["response_code"] == "00" and result["cryptogram_type"] == "TC"
        assert r.host.ledger.net_amount(pan=PAN) == 1250
        request = r.host.ledger.messages(mti="0200")[0]["fields"]
        assert request["22"] == "051"


def test_wrong_pin_nothing_sent_no_reversal(tmp_path: Path) -> None:
    """A certificate that is not the pinned one: the request never leaves, so no
    reversal is owed; the card decides offline (this always-online card: Z3)."""
    with tls_rig(tmp_path, pin="00" * 32) as r:
        result = r.pay(type="sale", amount=1250, entry="chip")
        assert result["decision"] == "declined" and result["response_code"] == "Z3", result
        assert result["reversal_pending"] is False
        assert r.host.ledger.messages(mti="0200") == []
        with Journal(r.directory / "terminal" / "journal.db") as journal:
            assert not journal.pending_reversals()


@pytest.mark.parametrize("fault", ["never", "drop", "garble", "bad_mac"])
def test_no_valid_response_over_tls_is_reversed(tmp_path: Path, fault: str) -> None:
    with tls_rig(tmp_path) as r:
        r.host.faults.next(fault, mti="0200")
        result = r.pay(type="sale", amount=1250, entry="chip")
        assert result["decision"] == "terminated" and result["reversal_pending"] is True, result
        nxt = r.pay(type="balance", entry="chip")
        assert nxt["reversal_pending"] is False
        assert r.host.ledger.net_amount(pan=PAN) == 0
        inbound = [m["mti"] for m in r.host.ledger.messages() if m["direction"] == "in"]
        assert inbound[0] == "0200" and inbound[1] in ("0400", "0401")  # reversal first
        assert r.host.faults.fired == [(Fault(fault), "0200")]


# --- `posterm sim host --tls-cert --tls-key` ---


def test_cli_tls_listening_line_and_exchange(tmp_path: Path, cert: tuple[Path, Path, str]) -> None:
    cert_path, key_path, pin = cert
    proc = subprocess.Popen(
        [sys.executable, "-m", "terminal", "sim", "host", "--port", "0", "--rules", str(EXAMPLE),
         "--ledger", str(tmp_path / "host.db"), "--tls-cert", str(cert_path),
         "--tls-key", str(key_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        # tests/e2e/rigproc.py's parse still finds the port; the pin comes after
        prefix = re.match(
            r"posterm sim host: listening on 127\.0\.0\.1:(\d+), ledger (\S+), ", line
        )
        assert prefix and prefix.group(2) == str(tmp_path / "host.db"), line
        assert re.search(r"127\.0\.0\.1:(\d+)", line).group(1) == prefix.group(1)  # type: ignore[union-attr]
        assert line.rstrip("\n").endswith(f", tls pin_sha256 {pin}")
        outcome = client(int(prefix.group(1)), bytes.fromhex(pin)).exchange(ECHO, None)
        assert isinstance(outcome, Response) and outcome.code == "00"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_cli_bad_certificate_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    proc = subprocess.run(
        [sys.executable, "-m", "terminal", "sim", "host", "--port", "0", "--rules", str(EXAMPLE),
         "--ledger", str(tmp_path / "host.db"), "--tls-cert", str(missing)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2 and "nope.pem" in proc.stderr
