"""ECR interface: line-delimited JSON over TCP or a serial line (docs/ecr-protocol.md).

A cash register sends one JSON object per line carrying the `posterm pay` fields
(``type``, ``amount``, ``entry``, ``rrn``, ``auth_code``, ``merchant``, ``qr``,
``voucher``, ``pin`` for a simulated keypad) plus ``operator`` (and ``password``, else
the terminal's ``POSTERM_PASSWORD``) and an optional ``id``; the terminal answers one
line: the `pay` result object (plus ``id``), or ``{"error": ..., "id": ...}``.
``{"command": "status"}`` answers the machine state; ``{"command": "cancel"}`` (on
another connection) cancels the transaction in progress and is answered at once.
``{"command": "x_report" | "history" | "reprint", ...}`` (with ``operator``) answer
from the journal (:func:`answer_query`): the X report, a history search, the last
receipt again.
Requests are handed to the terminal's one worker through a queue, so transactions
never overlap.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from terminal.errors import UsageError

log = logging.getLogger(__name__)

MAX_LINE = 16 * 1024  # a request line longer than this is refused (and the link closed)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class EcrRequest:
    """One parsed request waiting for the terminal; ``answer`` is set by the worker."""

    fields: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    answer: dict[str, Any] | None = None


QUERIES = ("x_report", "history", "reprint")  # read the journal; no host, no card


def answer_query(command: str, fields: dict[str, Any], config: Any, journal: Any) -> dict[str, Any]:
    """The answer to an ECR query (the caller logged the operator in and checked the
    permission of the same name): the objects `posterm report|history|reprint --json`
    print. UsageError names a bad field."""
    from terminal import reports  # loaded with the first query (resident memory)

    merchant = fields.get("merchant")
    if merchant is not None and not isinstance(merchant, str):
        raise UsageError("merchant must be a string")
    if command == "x_report":
        return reports.report_object(config, journal, merchant)
    text = {name: fields.get(name) for name in ("pan_last4", "stan", "rrn")}
    for name, value in text.items():
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{name} must be a string")
    if command == "history":
        since = fields.get("since")
        if since is not None and not isinstance(since, str | int | float):
            raise UsageError("since must be a date, a date-time or epoch seconds")
        rows = reports.history(
            journal,
            merchant=merchant,
            since=since,
            pan_last4=text["pan_last4"],
            stan=text["stan"],
            rrn=text["rrn"],
            limit=fields.get("limit", 100),
        )
        return {"transactions": rows}
    return reports.reprint(journal, stan=text["stan"], merchant=merchant)


def parse_line(line: bytes) -> dict[str, Any]:
    """A request object, or UsageError naming what is wrong (never echoing values)."""
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"not a JSON line ({type(error).__name__})") from None
    if not isinstance(value, dict):
        raise UsageError("a request must be a JSON object")
    return value


def encode_answer(answer: dict[str, Any]) -> bytes:
    return (json.dumps(answer) + "\n").encode("utf-8")


class EcrEndpoint:
    """Accepts ECR connections and queues their requests for the worker."""

    def __init__(self, requests: queue.Queue[EcrRequest]) -> None:
        self.requests = requests
        self.on_cancel: Callable[[], None] | None = None  # set by the terminal
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, fields: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        request = EcrRequest(fields)
        self.requests.put(request)
        request.done.wait(timeout)
        return request.answer or {"error": "terminal stopped", "id": fields.get("id")}

    def serve_stream(self, read_line: Callable[[], bytes], write: Callable[[bytes], None]) -> None:
        """One register's conversation: line in, answer out, until EOF or stop."""
        while not self._stop.is_set():
            line = read_line()
            if not line:
                return
            if len(line) > MAX_LINE:
                write(encode_answer({"error": "request line too long"}))
                return
            if not line.strip():
                continue
            try:
                fields = parse_line(line)
            except UsageError as error:
                write(encode_answer({"error": str(error)}))
                continue
            if fields.get("command") == "cancel":
                # Not queued: it must reach the transaction that is running now.
                if self.on_cancel is not None:
                    self.on_cancel()
                write(encode_answer({"cancelled": True, "id": fields.get("id")}))
                continue
            write(encode_answer(self.submit(fields)))

    def stop(self) -> None:
        self._stop.set()


class TcpEcr(EcrEndpoint):
    """``tcp://HOST:PORT`` (port 0 picks a free one; :attr:`port` tells which)."""

    def __init__(self, requests: queue.Queue[EcrRequest], host: str, port: int) -> None:
        super().__init__(requests)
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])

    def start(self) -> None:
        thread = threading.Thread(target=self._accept, name="ecr-accept", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            try:
                self.serve_stream(lambda: reader.readline(MAX_LINE + 1), conn.sendall)
            except OSError as error:
                log.info("ECR connection closed: %s", type(error).__name__)

    def stop(self) -> None:
        super().stop()
        self._listener.close()


class SerialEcr(EcrEndpoint):
    """``serial:///dev/ttyS0?baudrate=115200`` through pyserial."""

    def __init__(self, requests: queue.Queue[EcrRequest], device: str, baudrate: int) -> None:
        super().__init__(requests)
        import serial  # pyserial: a runtime dependency of the handset build

        self._port = serial.Serial(device, baudrate=baudrate, timeout=0.2)
        self._buffer = b""

    def _read_line(self) -> bytes:
        while not self._stop.is_set():
            try:
                chunk = self._port.readline(MAX_LINE + 1)
            except (OSError, TypeError, ValueError):  # port closed under us (stop)
                return b""
            self._buffer += chunk
            if self._buffer.endswith(b"\n") or len(self._buffer) > MAX_LINE:
                line, self._buffer = self._buffer, b""
                return line
        return b""

    def start(self) -> None:
        thread = threading.Thread(
            target=self.serve_stream, args=(self._read_line, self._port.write), daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        super().stop()
        self._port.close()


def open_ecr(url: str, requests: queue.Queue[EcrRequest]) -> TcpEcr | SerialEcr:
    """The endpoint for ``url`` (tcp:// or serial://); UsageError for anything else."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "tcp":
        if parsed.hostname is None or parsed.port is None:
            raise UsageError("--ecr tcp:// needs HOST:PORT")
        return TcpEcr(requests, parsed.hostname, parsed.port)
    if parsed.scheme == "serial":
        query = dict(urllib.parse.parse_qsl(parsed.query))
        return SerialEcr(requests, parsed.netloc + parsed.path, int(query.get("baudrate", 9600)))
    raise UsageError("--ecr must be tcp://HOST:PORT or serial:///dev/DEVICE")
