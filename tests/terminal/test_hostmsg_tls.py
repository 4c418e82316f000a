"""The host client over TLS with the server certificate pinned ([host].pin_sha256)."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import struct
import threading
from pathlib import Path

import iso8583
from iso8583 import specs

from terminal.hostmsg import Acceptor, HostClient, HostClientSettings, network_management
from terminal.hostmsg.client import NoValidResponse, Response
from tests.support.certs import self_signed_cert

WHEN = dt.datetime(2026, 11, 25, 9, 30, 15)


def make_cert(tmp_path: Path) -> tuple[Path, Path, bytes]:
    cert_path, key_path, pin = self_signed_cert(tmp_path, "posterm test host")
    return cert_path, key_path, bytes.fromhex(pin)


def serve_once(listener: socket.socket, context: ssl.SSLContext) -> None:
    try:
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            size = struct.unpack(">H", tls.recv(2))[0]
            data = b""
            while len(data) < size:
                data += tls.recv(size - len(data))
            doc, _ = iso8583.decode(bytearray(data), specs.default)
            out = {"t": "0810", "11": doc["11"], "41": doc["41"], "39": "00", "70": doc["70"]}
            body, _ = iso8583.encode(out, specs.default)
            tls.sendall(struct.pack(">H", len(body)) + bytes(body))
    except (OSError, ssl.SSLError, struct.error):  # the pin-mismatch client hangs up
        return


def test_tls_pinned_and_mismatch(tmp_path: Path) -> None:
    cert, key, pin = make_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    port = listener.getsockname()[1]
    message = network_management(
        "echo", stan="000001", acceptor=Acceptor("TERM0001", "MERCHANT0000001"), when=WHEN
    )
    try:
        thread = threading.Thread(target=serve_once, args=(listener, context), daemon=True)
        thread.start()
        good = HostClient(HostClientSettings("127.0.0.1", port, 2.0, 2.0, pin_sha256=pin))
        outcome = good.exchange(message, None)
        assert isinstance(outcome, Response) and outcome.code == "00"
        thread.join(2)
        thread = threading.Thread(target=serve_once, args=(listener, context), daemon=True)
        thread.start()
        bad = HostClient(HostClientSettings("127.0.0.1", port, 2.0, 2.0, pin_sha256=bytes(32)))
        outcome = bad.exchange(message, None)
        assert isinstance(outcome, NoValidResponse) and not outcome.sent
        assert "pinned" in outcome.reason
    finally:
        listener.close()
