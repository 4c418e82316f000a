"""One thread that runs every request's checks, ledger work and response encoding.

Why one thread: with each connection's thread doing its own crypto, SQLite statements
and commit wait, 20 busy connections spent more time handing the GIL and the ledger
lock to one another than working (bench/bench_host.py stalled under 1,000 auth/s on two
cores). Here connection threads only block on their sockets; this thread takes every
request queued since its last pass, runs each in its own SAVEPOINT, commits the lot
with one fsync (``Ledger.group``) and only then releases the answers, so no response
leaves before its ledger rows are on disk. Requests are handled in arrival order.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sim.host import codec
from sim.host.errors import HostError
from sim.host.ledger import Ledger
from sim.host.processor import Processor, Reply

log = logging.getLogger("sim.host")


class ResponseNotEncodable(HostError):
    """The request was processed and stored but its response could not be encoded."""


@dataclass(slots=True)
class _Job:
    payload: bytes
    fields: Mapping[str, str]
    conn: int
    done: threading.Event = field(default_factory=threading.Event)
    reply: Reply | None = None
    frame: bytes = b""
    error: HostError | None = None


class RequestWorker:
    """Serialises request processing onto one thread with group commits."""

    def __init__(
        self, processor: Processor, ledger: Ledger, encode: Callable[[Reply], bytes]
    ) -> None:
        self._processor = processor
        self._ledger = ledger
        self._encode = encode
        self._queue: list[_Job] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"RequestWorker(queued={len(self._queue)}, stopping={self._stopping})"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="host-requests", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run(self, payload: bytes, fields: Mapping[str, str], conn: int) -> tuple[Reply, bytes]:
        """Process one request; returns its reply and framed response once both are durable.

        Raises HostError when the request could not be processed, stored or encoded."""
        job = _Job(payload, fields, conn)
        with self._cond:
            if self._stopping or self._thread is None:
                raise HostError("the host is stopping")
            self._queue.append(job)
            self._cond.notify()
        while not job.done.wait(1.0):
            if not self._thread.is_alive():  # a dead worker must not leave callers waiting
                raise HostError("the request worker has stopped")
        if job.error is not None:
            raise job.error
        assert job.reply is not None  # set together with error=None by _process
        return job.reply, job.frame

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                jobs, self._queue = self._queue, []
            try:
                with self._ledger.group():
                    for job in jobs:
                        self._process(job)
            except sqlite3.Error as exc:  # the COMMIT failed: nothing of the group is stored
                log.error("ledger commit failed for %d request(s): %s", len(jobs), exc)
                for job in jobs:
                    job.error = HostError(f"ledger commit failed: {exc}")
            finally:
                for job in jobs:
                    job.done.set()

    def _process(self, job: _Job) -> None:
        try:
            reply = self._processor.handle(job.payload, job.fields, job.conn)
        except HostError as exc:
            job.error = exc
            return
        except Exception as exc:  # noqa: BLE001  # a bug must not stop the host: fail this one
            # the class name only: a message could quote card data
            log.error(
                "request MTI %s STAN %s failed: %s",
                job.fields.get("t"),
                job.fields.get("11"),
                type(exc).__name__,
            )
            job.error = HostError(f"internal error ({type(exc).__name__})")
            return
        try:
            job.frame = codec.frame(self._encode(reply))
        except HostError as exc:
            job.error = ResponseNotEncodable(str(exc))
            return
        job.reply = reply
