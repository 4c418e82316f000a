"""Issue 5: the host simulator sustains >= 1,000 authorisations/s from 20 connections.

The host runs in its own process (as `posterm sim host` would); 20 client threads in this
process each own a TCP connection and a terminal ID and send 0200 sales carrying a DUKPT
PIN block and MAC, one request in flight per connection, for a bounded time. Requests
are built before the clock starts so the figure is the host's, not the client's. Every
response is checked afterwards: approved, and its MAC valid under the response key.
"""

from __future__ import annotations

import multiprocessing
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import iso8583
from iso8583.specs import default as spec_default

from bench.common import Result
from keys import dukpt, mac

BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1 Annex A test BDK
CONNECTIONS = 20
TARGET = 1000.0
PAN_PREFIX = "476173900101"
RULES: dict[str, Any] = {
    "host": {"today": "2026-11-25"},
    "cards": [{"prefix": "476173", "pin": "1234", "max_amount": 10_000_000}],
}


def _serve(ledger: str, conn: Any, stop: Any) -> None:
    from sim.host import HostSimulator, rules_from_dict

    with HostSimulator(rules_from_dict(RULES), ledger, BDK) as host:
        conn.send(host.port)
        stop.wait(120)


def _build(terminal: int, count: int) -> tuple[list[bytes], list[bytes]]:
    """Framed requests and the response-MAC key of each."""
    frames, response_keys = [], []
    device = f"FFFF98765432{terminal:02d}E00000"
    ipek = dukpt.derive_ipek(BDK, bytes.fromhex(device))
    pan = f"{PAN_PREFIX}{terminal:04d}"
    for n in range(1, count + 1):
        ksn = bytes.fromhex(device[:15] + f"{n:05X}")
        key = dukpt.derive_transaction_key(ipek, ksn)
        enc = _tdes(dukpt.pin_variant(key), _iso0("1234", pan))
        doc = {
            "t": "0200",
            "2": pan,
            "3": "000000",
            "4": f"{100 + n:012d}",
            "11": f"{n:06d}",
            "12": "101500",
            "13": "1125",
            "22": "051",
            "41": f"BENCH{terminal:03d}",
            "42": "MERCHANT0000001",
            "48": f"KS020{ksn.hex().upper()}",
            "49": "978",
            "52": enc.hex().upper(),
            "64": "00" * 8,
        }
        raw = bytes(iso8583.encode(doc, spec_default)[0])
        raw = raw[:-8] + mac.retail_mac(dukpt.mac_request_variant(key), raw[:-8])
        frames.append(len(raw).to_bytes(2, "big") + raw)
        response_keys.append(dukpt.mac_response_variant(key))
    return frames, response_keys


def _iso0(pin: str, pan: str) -> bytes:
    # ISO 9564-1 format 0: 0L PIN F.. XOR 0000 + 12 rightmost PAN digits before the check digit
    block = bytes.fromhex(f"0{len(pin)}{pin}".ljust(16, "F"))
    field = bytes.fromhex("0000" + pan[-13:-1])
    return bytes(a ^ b for a, b in zip(block, field, strict=True))


def _tdes(key: bytes, data: bytes) -> bytes:
    from Crypto.Cipher import DES3

    return DES3.new(key + key[:8], DES3.MODE_ECB).encrypt(data)


def _read(sock: socket.socket) -> bytes:
    def exact(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("host closed the link")
            data += chunk
        return data

    return exact(int.from_bytes(exact(2), "big"))


def _client(
    port: int,
    frames: list[bytes],
    start: threading.Barrier,
    deadline: list[float],
    out: dict[int, Any],
    ident: int,
) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    replies: list[bytes] = []
    start.wait()
    end = deadline[0]
    for frame in frames:
        if time.perf_counter() >= end:
            break
        sock.sendall(frame)
        replies.append(_read(sock))
    out[ident] = (replies, time.perf_counter(), len(replies) == len(frames))
    sock.close()


def measure(seconds: float, per_client: int) -> tuple[float, int, int, int, bool]:
    """(authorisations/s, answered, approved, MAC failures, supply exhausted)."""
    work = [_build(t, per_client) for t in range(CONNECTIONS)]
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    stop = ctx.Event()
    with tempfile.TemporaryDirectory() as tmp:
        proc = ctx.Process(
            target=_serve, args=(str(Path(tmp) / "ledger.db"), child, stop), daemon=True
        )
        proc.start()
        try:
            if not parent.poll(30):
                raise RuntimeError("host did not start")
            port = parent.recv()
            barrier = threading.Barrier(CONNECTIONS + 1)
            deadline = [0.0]
            out: dict[int, Any] = {}
            threads = [
                threading.Thread(target=_client, args=(port, work[i][0], barrier, deadline, out, i))
                for i in range(CONNECTIONS)
            ]
            for t in threads:
                t.start()
            deadline[0] = time.perf_counter() + seconds
            began = time.perf_counter()
            barrier.wait()
            for t in threads:
                t.join(seconds + 30)
        finally:
            stop.set()
            proc.join(10)
    finished = max(v[1] for v in out.values())
    total = sum(len(v[0]) for v in out.values())
    approved = mac_failures = 0
    for i, (replies, _, _) in out.items():
        for n, raw in enumerate(replies):
            fields = iso8583.decode(raw, spec_default)[0]
            approved += fields.get("39") == "00"
            if mac.retail_mac(work[i][1][n], raw[:-8]) != raw[-8:]:
                mac_failures += 1
    exhausted = any(v[2] for v in out.values())
    return total / (finished - began), total, approved, mac_failures, exhausted


def run(quick: bool) -> list[Result]:
    # 10 s so the figure includes the ledger growing and WAL checkpoints, not a burst
    seconds = 1.0 if quick else 10.0
    per_client = 200 if quick else 1200
    rate, total, approved, mac_failures, exhausted = measure(seconds, per_client)
    note = f"{seconds:.0f} s run, {approved}/{total} approved, {mac_failures} response-MAC failures"
    if exhausted:
        note += "; a client ran out of pre-built requests (figure is a lower bound)"
    return [
        Result(
            issue=5,
            name="host sim: 0200 with PIN + MAC, 20 connections, loopback",
            measured=f"{rate:,.0f} auth/s",
            target=">= 1,000 auth/s from 20 connections",
            met=rate >= TARGET and mac_failures == 0 and approved == total,
            note=note,
        )
    ]
