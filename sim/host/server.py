"""The TCP side of the host: framing, one thread per connection, fault delivery.

One request in flight per connection (host-spec "Transport"); connection threads only
read, wait and write, and one request worker (sim.host.worker) runs the business logic
and group-commits the ledger. With a certificate the listener speaks TLS 1.2+
(sim.host.tls); the handshake runs in the connection's thread.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sim.host import codec, security
from sim.host.errors import FrameError, HostError
from sim.host.faults import ArmedFault, Fault, Faults
from sim.host.ledger import Ledger
from sim.host.processor import Processor, Reply
from sim.host.rules import Rules, load_rules
from sim.host.worker import RequestWorker, ResponseNotEncodable

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("sim.host")

HOLD_MAX_SECONDS = 120.0  # a response held for a reversal is dropped after this
TLS_POLL_SECONDS = 0.05  # a TLS connection's thread looks for posted frames this often
POSTED_WAIT_SECONDS = 1.0  # how long a poster waits for the owner to send its frame


@dataclass(slots=True)
class _Conn:
    ident: int
    sock: socket.socket
    send_lock: threading.Lock
    alive: bool = True
    tls: bool = False
    owner: int = 0  # thread ident of the connection's reader
    posted: list[tuple[bytes, threading.Event]] = field(default_factory=list)

    def send_from_any_thread(self, data: bytes) -> None:
        """OpenSSL forbids using one SSL object from two threads at once, so on TLS a
        frame from another thread is posted to the reader, which sends it between
        reads; plain TCP sends at once."""
        if not self.tls or threading.get_ident() == self.owner:
            self.send(data)
            return
        done = threading.Event()
        with self.send_lock:
            if not self.alive:
                return
            self.posted.append((data, done))
        done.wait(POSTED_WAIT_SECONDS)

    def wait_readable(self, seconds: float) -> bool:
        """TLS reader loop: send posted frames, then True when request bytes are there."""
        with self.send_lock:
            posted, self.posted = self.posted, []
        for data, done in posted:
            self.send(data)
            done.set()
        if self.sock.pending():  # type: ignore[attr-defined]  # decrypted, not yet read
            return True
        readable, _, _ = select.select([self.sock], [], [], seconds)
        return bool(readable)

    def send(self, data: bytes) -> bool:
        with self.send_lock:
            if not self.alive:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                self.alive = False
                return False

    def close(self) -> None:
        with self.send_lock:
            self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@dataclass(slots=True)
class _Held:
    """A response kept back until the reversal of its request arrives."""

    conn: _Conn
    ready: threading.Event
    frame: bytes = b""
    deadline: float = float("inf")


class HostSimulator:
    """Acquirer host speaking host-spec.md over TCP on 127.0.0.1.

    >>> with HostSimulator(rules, "ledger.db", bdk) as host:   # doctest: +SKIP
    ...     port = host.port

    ``tls_cert`` (PEM) and ``tls_key`` (PEM; default: inside ``tls_cert``) make every
    connection TLS 1.2+; ``pin_sha256`` is then the certificate pin for the terminal.
    """

    def __init__(
        self,
        rules: Rules | str | Path,
        ledger_path: str | Path,
        bdk: bytes | str,
        port: int = 0,
        host: str = "127.0.0.1",
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
    ) -> None:
        self._tls: ssl.SSLContext | None = None
        self.pin_sha256: str | None = None
        if tls_cert is not None:
            from sim.host import tls  # plain-TCP hosts do not load OpenSSL

            self._tls = tls.server_context(tls_cert, tls_key)
            self.pin_sha256 = tls.certificate_pin(tls_cert)
        elif tls_key is not None:
            raise HostError("a TLS key needs its certificate (tls_cert)")
        self.rules = rules if isinstance(rules, Rules) else load_rules(rules)
        key = bytes.fromhex(bdk) if isinstance(bdk, str) else bytes(bdk)
        self.ledger = Ledger(ledger_path)
        self.faults = Faults()
        self.processor = Processor(
            self.rules, self.ledger, security.DukptHost(key), lambda: self.faults.declines
        )
        self.scripts = self.processor.scripts
        self._worker = RequestWorker(self.processor, self.ledger, self._encode)
        self._bind = (host, port)
        self.port = port
        self._listener: socket.socket | None = None
        self._running = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: dict[int, _Conn] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], _Held] = {}
        self._stopped = False
        for rule in self.rules.faults:
            self.faults.next(
                rule.mode,
                seconds=rule.seconds,
                mti=rule.mti,
                count=rule.count,
                process=rule.process,
            )

    def __repr__(self) -> str:
        scheme = "tls" if self._tls is not None else "tcp"
        return f"HostSimulator({scheme}, port={self.port}, running={self._running.is_set()})"

    # --- lifecycle ---

    def start(self) -> int:
        """Bind and serve in background threads; returns the bound port."""
        self._listener = self._listen(self._bind[1])
        self.port = self._listener.getsockname()[1]
        self._bind = (self._bind[0], self.port)
        self._running.set()
        self._worker.start()
        thread = threading.Thread(target=self._accept_loop, name="host-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self.port

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._running.clear()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            conn.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._worker.stop()
        self.ledger.close()

    def __enter__(self) -> HostSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        if not self._running.is_set():
            self.start()
        try:
            while self._running.is_set():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # --- accepting ---

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._bind[0], port))
        sock.listen(128)
        sock.settimeout(0.05)
        return sock

    def _accept_loop(self) -> None:
        while self._running.is_set():
            if self.faults.refusing():
                self._refuse_window()
                continue
            listener = self._listener
            if listener is None:
                return
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._running.is_set():
                    return
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:  # no I/O here: the handshake runs in _serve
                sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            else:
                sock.settimeout(None)
            conn = _Conn(next(self._ids), sock, threading.Lock(), tls=self._tls is not None)
            with self._lock:
                self._conns[conn.ident] = conn
            thread = threading.Thread(
                target=self._serve, args=(conn,), name=f"host-conn-{conn.ident}", daemon=True
            )
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _refuse_window(self) -> None:
        """Close the listener so connects get ECONNREFUSED, then re-bind the same port."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        while self.faults.refusing() and self._running.is_set():
            time.sleep(0.01)
        if self._running.is_set():
            self._listener = self._listen(self.port)

    # --- one connection ---

    def _serve(self, conn: _Conn) -> None:
        try:
            conn.owner = threading.get_ident()
            if self._tls is not None and not self._handshake(conn):
                return
            while self._running.is_set() and conn.alive:
                try:
                    if conn.tls and not conn.wait_readable(TLS_POLL_SECONDS):
                        continue
                    payload = codec.read_frame(conn.sock)
                except FrameError as exc:
                    self.ledger.record_message("in", conn.ident, {}, note=f"bad frame: {exc}")
                    return
                except (OSError, ValueError):  # ValueError: select on a closed socket
                    return
                if payload is None:
                    return
                try:
                    fields = codec.decode(payload)
                except FrameError as exc:
                    self.ledger.record_message("in", conn.ident, {}, note=str(exc))
                    return  # undecodable: nothing to answer; the link is closed
                if not self._handle(conn, payload, fields):
                    return
        finally:
            conn.close()
            with self._lock:
                self._conns.pop(conn.ident, None)

    def _handshake(self, conn: _Conn) -> bool:
        """TLS server handshake, bounded; a failure closes the connection unanswered."""
        from sim.host.tls import HANDSHAKE_SECONDS

        try:
            conn.sock.settimeout(HANDSHAKE_SECONDS)
            conn.sock.do_handshake()  # type: ignore[attr-defined]
            conn.sock.settimeout(None)
        except OSError as exc:  # ssl.SSLError, timeout, reset
            self.ledger.record_message("in", conn.ident, {}, note=f"TLS handshake failed: {exc}")
            return False
        return True

    def _handle(self, conn: _Conn, payload: bytes, fields: dict[str, str]) -> bool:
        """Process one request and deliver (or fail to deliver) its response.

        Returns False when the connection must be closed."""
        armed = self.faults.take(fields.get("t", ""))
        if armed is not None and not armed.process:
            self.ledger.record_message(
                "in", conn.ident, fields, note=f"ignored by fault {armed.fault.value}"
            )
            return self._deliver_fault(conn, armed, b"")
        if armed is not None and armed.fault is Fault.DELAY:
            time.sleep(armed.seconds)
        hold_key = (fields.get("41", ""), fields.get("11", ""))
        if armed is not None and armed.fault is Fault.AFTER_REVERSAL:
            with self._lock:  # registered before processing: a fast 0400 still finds it
                self._held[hold_key] = _Held(conn, threading.Event())
        try:
            reply, frame = self._worker.run(payload, fields, conn.ident)
        except ResponseNotEncodable as exc:
            log.warning("response not encodable: %s", exc)
            return False
        except HostError as exc:
            log.warning("request failed: %s", exc)
            return False
        if reply.reversal_of is not None:
            self._release_held(reply.reversal_of)
        if armed is None or armed.fault is Fault.DELAY:
            return conn.send(frame)
        if armed.fault is Fault.AFTER_REVERSAL:
            held = self._held.get(hold_key)
            if held is not None:
                held.frame = frame
                held.deadline = time.monotonic() + HOLD_MAX_SECONDS
                held.ready.set()
            return True
        return self._deliver_fault(conn, armed, frame)

    def _encode(self, reply: Reply) -> bytes:
        if reply.mac_key is None:
            return codec.encode(reply.fields)
        key = reply.mac_key
        return codec.encode_with_mac(reply.fields, lambda body: security.retail_mac(key, body))

    def _deliver_fault(self, conn: _Conn, armed: ArmedFault, frame: bytes) -> bool:
        fault = armed.fault
        if fault is Fault.NEVER:
            return True
        if fault is Fault.DROP:
            conn.send(frame[: max(3, len(frame) // 2)] if frame else b"\x00\x40\x30\x32")
            return False
        if fault is Fault.GARBLE:
            body = os.urandom(max(len(frame) - 2, 24))
            body = b"\xff\xfe" + body[2:]  # not an ASCII MTI: never decodes
            return conn.send(codec.frame(body))
        if fault is Fault.BAD_MAC:
            if not frame:
                return True
            return conn.send(frame[:-1] + bytes([frame[-1] ^ 0x01]))
        return conn.send(frame) if frame else True

    def _release_held(self, key: tuple[str, str]) -> None:
        """host-spec rule 1 test: the late response goes out once its 0400 arrived."""
        now = time.monotonic()
        with self._lock:
            held = self._held.pop(key, None)
            for k in [k for k, h in self._held.items() if h.deadline < now]:
                del self._held[k]
        if held is not None and held.ready.wait(5.0):
            held.conn.send_from_any_thread(held.frame)
