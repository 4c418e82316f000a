"""A minimal acquirer peer for tests, built on pyiso8583 directly (no posterm code on
the wire side): real TCP, 2-byte framing, host-side DUKPT, scripted faults."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import iso8583
from iso8583 import specs

from keys import dukpt
from keys.mac import retail_mac

BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1 Annex A test BDK
KSN = bytes.fromhex("FFFF9876543210E00000")
IPEK = dukpt.derive_ipek(BDK, KSN)

RESPOND_MTI = {
    "0800": "0810",
    "0100": "0110",
    "0200": "0210",
    "0220": "0230",
    "0320": "0330",
    "0400": "0410",
    "0401": "0410",
    "0500": "0510",
}


def parse_de48(text: str) -> dict[str, str]:
    out, pos = {}, 0
    while pos < len(text):
        tag, size = text[pos : pos + 2], int(text[pos + 2 : pos + 5])
        out[tag] = text[pos + 5 : pos + 5 + size]
        pos += 5 + size
    return out


@dataclass
class Seen:
    mti: str
    fields: dict[str, str]
    mac_ok: bool | None


@dataclass
class Peer:
    """``script`` decides each answer: a callable(Seen) -> action, where action is a
    dict of response fields, or one of "silence", "close", "garbage", "bad_mac",
    "oversize", "wrong_stan"."""

    script: Callable[[Seen], Any] | None = None
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                while True:
                    head = _read(conn, 2)
                    if not head:
                        return
                    raw = _read(conn, struct.unpack(">H", head)[0])
                    if not self._answer(conn, raw):
                        return
            except OSError:
                return

    def _answer(self, conn: socket.socket, raw: bytes) -> bool:
        doc, _ = iso8583.decode(bytearray(raw), specs.default)
        mti = doc["t"]
        key = None
        mac_ok = None
        if mti != "0800":
            ksn = bytes.fromhex(parse_de48(doc["48"])["KS"])
            key = dukpt.derive_transaction_key(IPEK, ksn)
            mac_ok = retail_mac(dukpt.mac_request_variant(key), raw[:-8]) == raw[-8:]
        seen = Seen(mti, doc, mac_ok)
        self.seen.append(seen)
        action = self.script(seen) if self.script else {}
        if action == "silence":
            self._stop.wait(3)
            return False
        if action == "close":
            return False
        if action == "garbage":
            conn.sendall(b"\x00\x05hello")
            return True
        if action == "oversize":
            conn.sendall(struct.pack(">H", 5000) + b"x" * 5000)
            return True
        out = {"t": RESPOND_MTI[mti]}
        for de in ("3", "4", "11", "12", "13", "24", "41", "42", "49"):
            if de in doc:
                out[de] = doc[de]
        out["39"] = "00"
        if action == "wrong_stan":
            out["11"] = "999999"
        elif isinstance(action, dict):
            out.update(action)
        if key is not None:
            out["64"] = "00" * 8
            body, _ = iso8583.encode(out, specs.default)
            mac = retail_mac(dukpt.mac_response_variant(key), bytes(body[:-8]))
            if action == "bad_mac":
                mac = bytes(8)
            frame = bytes(body[:-8]) + mac
        else:
            body, _ = iso8583.encode(out, specs.default)
            frame = bytes(body)
        conn.sendall(struct.pack(">H", len(frame)) + frame)
        return True


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data
