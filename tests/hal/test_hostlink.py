"""Host links: 2-byte framing (property-tested), TCP, TLS with certificate pinning
against a self-signed certificate made in the test, and serial over a real pty."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from hal.hostlink import (
    MAX_FRAME,
    ConnectError,
    FrameDecoder,
    FrameTooLongError,
    LinkClosedError,
    LinkTimeout,
    PinMismatchError,
    SerialHostLink,
    TcpHostLink,
    encode_frame,
)
from hal.registry import open_device
from tests.support.certs import self_signed_cert


@given(st.lists(st.binary(max_size=MAX_FRAME), max_size=5), st.integers(1, 50))
def test_frames_round_trip_any_chunking(frames: list[bytes], chunk: int) -> None:
    stream = b"".join(encode_frame(f) for f in frames)
    decoder = FrameDecoder()
    out: list[bytes] = []
    for start in range(0, len(stream), chunk):
        out += decoder.feed(stream[start : start + chunk])
    assert out == frames and decoder.pending == 0


@given(st.integers(MAX_FRAME + 1, 0xFFFF))
def test_overlong_length_rejected(size: int) -> None:
    with pytest.raises(FrameTooLongError):
        FrameDecoder().feed(size.to_bytes(2, "big"))
    with pytest.raises(FrameTooLongError):
        encode_frame(bytes(size))


Behaviour = Callable[[socket.socket], None]


def echo(conn: socket.socket) -> None:
    decoder = FrameDecoder()
    while True:
        data = conn.recv(4096)
        if not data:
            return
        for frame in decoder.feed(data):
            conn.sendall(encode_frame(b"R:" + frame))


class Server:
    def __init__(self, behaviour: Behaviour, context: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            try:
                if self.context is not None:
                    conn = self.context.wrap_socket(conn, server_side=True)
                with conn:
                    self.behaviour(conn)
            except (OSError, ssl.SSLError):
                pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server_factory() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def make(behaviour: Behaviour, context: ssl.SSLContext | None = None) -> Server:
        servers.append(Server(behaviour, context))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_tcp_request_response_and_reconnect(server_factory: Callable[..., Server]) -> None:
    server = server_factory(echo)
    link = open_device("host", f"tcp://127.0.0.1:{server.port}")
    try:
        link.send(b"0800")
        assert link.receive(2) == b"R:0800"
        link.close()
        link.send(b"again")  # reconnects on its own
        assert link.receive(2) == b"R:again"
        assert server.connections == 2
    finally:
        link.close()


@pytest.mark.parametrize(
    ("behaviour", "error", "message"),
    [
        (lambda c: (c.recv(100), threading.Event().wait(1)), LinkTimeout, "no response"),
        (
            lambda c: (c.recv(100), c.sendall(b"\x00\x10abc"), threading.Event().wait(1)),
            LinkTimeout,
            "3 of 16",
        ),
        (lambda c: (c.recv(100), c.sendall(b"\x00\x10abc")), LinkClosedError, "closed"),
        (lambda c: (c.recv(100), c.sendall(b"\x10\x01" + bytes(10))), FrameTooLongError, "4097"),
    ],
    ids=["silent", "half-frame-stall", "half-frame-close", "overlong"],
)
def test_bad_host_answers(
    server_factory: Callable[..., Server],
    behaviour: Behaviour,
    error: type[Exception],
    message: str,
) -> None:
    server = server_factory(behaviour)
    link = TcpHostLink("127.0.0.1", server.port)
    link.send(b"0200")
    with pytest.raises(error, match=message):
        link.receive(0.3)
    assert not link.connected  # dropped: the stream cannot be trusted any more


def test_refused() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ConnectError, match="cannot connect"):
        TcpHostLink("127.0.0.1", port).connect(1)


make_cert = self_signed_cert  # other test modules import it from here


@pytest.fixture
def tls_server(tmp_path: Path, server_factory: Callable[..., Server]) -> tuple[Server, Path, str]:
    cert, key, pin = make_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return server_factory(echo, context), cert, pin


def test_tls_pin_match(tls_server: tuple[Server, Path, str]) -> None:
    server, _, pin = tls_server
    link = open_device("host", f"tls://127.0.0.1:{server.port}", pin_sha256=pin)
    try:
        link.send(b"secure")
        assert link.receive(2) == b"R:secure"
    finally:
        link.close()


def test_tls_pin_mismatch(tls_server: tuple[Server, Path, str]) -> None:
    server, _, pin = tls_server
    wrong = ("00" if not pin.startswith("00") else "11") + pin[2:]
    link = TcpHostLink("127.0.0.1", server.port, tls=True, pin_sha256=wrong)
    with pytest.raises(PinMismatchError, match=pin):
        link.send(b"secure")
    assert not link.connected


def test_tls_ca_verification(tls_server: tuple[Server, Path, str]) -> None:
    server, cert, _ = tls_server
    good = TcpHostLink(
        "127.0.0.1", server.port, tls=True, ca_file=str(cert), server_hostname="acquirer.test"
    )
    good.send(b"x")
    assert good.receive(2) == b"R:x"
    good.close()
    with pytest.raises(ConnectError, match="TLS handshake"):
        TcpHostLink("127.0.0.1", server.port, tls=True).connect(2)  # not in the system store


@pytest.mark.pty
def test_serial_link_over_pty(ptys: tuple[str, str]) -> None:
    host_side, terminal_side = ptys
    link = SerialHostLink(terminal_side)
    link.connect()
    with serial.Serial(host_side, 9600, timeout=2) as host:
        link.send(b"0800")
        assert host.read(6) == b"\x00\x040800"
        host.write(encode_frame(b"0810"))
        assert link.receive(2) == b"0810"
        host.write(b"\x00\x09half")
        with pytest.raises(LinkTimeout, match="4 of 9"):
            link.receive(0.3)
        link.connect()  # reconnect after the bad frame
        host.write(b"\xff\xff")
        with pytest.raises(FrameTooLongError):
            link.receive(1)
        link.connect()
        host.write(encode_frame(b"ok"))
        assert link.receive(2) == b"ok"
    link.close()
