"""`posterm run --config FILE [--ecr tcp://127.0.0.1:8600]`: the terminal as a process.

Boot (self-tests, journal recovery, sign-on) to IDLE, then one loop: ECR requests (the
`pay` fields, answered with the `pay` result object; docs/ecr-protocol.md), device
events from the hal queue, and store-and-forward whenever it is due. SIGTERM or SIGINT
stops cleanly (the transaction in progress finishes first; the journal is closed).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import logging
import os
import queue
import signal
import sys
import threading
import time
from typing import Any

from hal.events import Event
from terminal.app import Terminal, is_simulated, open_terminal
from terminal.attended import Attended
from terminal.commands.pay import permissions, request_from
from terminal.config import load_config
from terminal.ecr import QUERIES, EcrRequest, answer_query, open_ecr
from terminal.errors import TerminalError
from terminal.flows import result_object, run_flow
from terminal.machine import State, Trigger
from terminal.operators import Operators, Session

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="run the terminal (state machine, ECR)")
    parser.add_argument("--config", required=True)
    parser.add_argument("--ecr", help="tcp://HOST:PORT or serial:///dev/DEVICE?baudrate=N")
    parser.set_defaults(func=run)


class Runner:
    """The long-running terminal: one worker thread of control, one queue of work."""

    def __init__(self, terminal: Terminal, attended: Attended | None = None) -> None:
        self.terminal = terminal
        self.attended = attended
        self.requests: queue.Queue[EcrRequest] = GatedRequests(self)
        self.stopping = threading.Event()
        self.operators = Operators(
            terminal.ports.journal,
            terminal.config.operators,
            idle_timeout=terminal.config.timeouts.operator_idle,
        )

    def busy(self) -> str | None:
        """Why an ECR transaction is refused now (the attended operator has the
        terminal), or None."""
        return self.attended.busy() if self.attended is not None else None

    def cancel(self) -> None:
        """ECR ``cancel``: only an ECR transaction; never the attended operator's."""
        if self.busy() is None:
            self.terminal.ports.cancel()

    def step(self, timeout: float = 0.05) -> None:
        """Attended mode: one ECR request (or a busy answer), then the device events
        as they come (a key reaches the UI at once), then the UI's time-outs."""
        assert self.attended is not None
        ports = self.terminal.ports
        try:
            request = self.requests.get_nowait()
        except queue.Empty:
            request = None
        if request is not None:
            self.answer(request)
        event = ports.queue.get(timeout=0 if request is not None else timeout)
        while event is not None:
            self.attended.handle(event)
            event = ports.queue.get(timeout=0)
        self.attended.tick()
        if ports.saf.due():
            ports.saf.drain()

    def answer(self, request: EcrRequest) -> None:
        reason = self.busy()
        if reason is not None and request.fields.get("command", "pay") in ("pay", "settle"):
            request.answer = busy_answer(reason, request.fields)
        elif self.attended is not None and request.fields.get("command", "pay") != "status":
            self.attended.ecr_started()
            try:
                request.answer = self.handle(request.fields)
            finally:
                self.attended.ecr_finished()
        else:
            request.answer = self.handle(request.fields)
        request.done.set()

    def serve(self) -> None:
        ports = self.terminal.ports
        while not self.stopping.is_set():
            if self.attended is not None:
                self.step()
                continue
            try:
                request = self.requests.get(timeout=0.1)
            except queue.Empty:
                request = None
            if request is not None:
                self.answer(request)
            for event in ports.queue.drain():
                self.on_event(event)
            if ports.saf.due():
                ports.saf.drain()

    def on_event(self, event: Event) -> None:
        log.info("event %s from %s", type(event).__name__, event.source)

    def handle(self, fields: dict[str, Any]) -> dict[str, Any]:
        ident = fields.get("id")
        try:
            answer = self._handle(fields)
        except TerminalError as error:
            answer = {"error": str(error)}
        except Exception as error:  # noqa: BLE001 - one bad request must not stop the terminal
            log.error("ECR request failed: %s", type(error).__name__)  # no text: no secrets
            answer = {"error": f"internal error ({type(error).__name__})"}
        if ident is not None:
            answer["id"] = ident
        return answer

    def _login(self, fields: dict[str, Any]) -> Session:
        operator = fields.get("operator")
        password = fields.get("password", os.environ.get("POSTERM_PASSWORD"))
        if not isinstance(operator, str) or not isinstance(password, str):
            raise TerminalError("operator and password are required")
        result = self.operators.login(operator, password)
        if not isinstance(result, Session):
            self.terminal.ports.fire(Trigger.LOGIN_FAILED)
            raise TerminalError(f"operator {operator}: {result.value}")
        self.terminal.ports.fire(Trigger.LOGIN_OK)
        return result

    def _handle(self, fields: dict[str, Any]) -> dict[str, Any]:
        command = fields.get("command", "pay")
        machine = self.terminal.machine
        if command == "status":
            return {"state": machine.state.value}
        attended_session = machine.state is not State.LOGGED_OUT  # keep the operator's
        session = self._login(fields)
        try:
            if command in QUERIES:  # x_report, history, reprint (docs/ecr-protocol.md)
                self.operators.require(session, command)
                config, journal = self.terminal.config, self.terminal.ports.journal
                return answer_query(command, fields, config, journal)
            if command == "settle":
                from terminal.settlement import Settlement

                self.operators.require(session, "settle")
                ports = self.terminal.ports
                ports.fire(Trigger.START_SETTLEMENT)
                nii = self.terminal.config.host.nii
                settlement = Settlement(
                    ports.journal, ports.client, ports.keys, ports.saf, nii=nii, now=ports.now
                )
                merchant = self.terminal.config.merchant(fields.get("merchant"))
                result = settlement.close(merchant, operator=session.operator).as_dict()
                ports.fire(Trigger.SETTLEMENT_DONE)
                return result
            if command != "pay":
                raise TerminalError(f"unknown command {command!r}")
            request = request_from(fields, session.operator)
            for action in permissions(request):
                self.operators.require(session, action)
            self._set_pin(fields.get("pin"))
            ctx = run_flow(request, self.terminal.ports)
            return result_object(ctx)
        finally:
            self._set_pin(None)
            if machine.state is State.IDLE and not attended_session:
                self.terminal.ports.fire(Trigger.LOGOUT)

    def _set_pin(self, pin: object) -> None:
        ports = self.terminal.ports
        keypad = getattr(ports.pinpad, "keypad", None)
        simulated = is_simulated(self.terminal.config.devices.keypad)
        if pin is not None and (not simulated or not isinstance(pin, str)):
            raise TerminalError("pin is accepted only when [devices].keypad is sim://")
        if simulated and keypad is not None and hasattr(keypad, "pin"):
            keypad.pin = pin
            ports.pin_timeout = 0.5 if pin is None else self.terminal.config.timeouts.pin_entry


def busy_answer(reason: str, fields: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {"error": f"terminal busy: {reason}", "busy": True}
    if fields.get("id") is not None:
        answer["id"] = fields["id"]
    return answer


class GatedRequests(queue.Queue[EcrRequest]):
    """The ECR request queue: while the attended operator has the terminal, a
    transaction request is answered "busy" at once instead of waiting behind it."""

    def __init__(self, runner: Runner) -> None:
        super().__init__()
        self.runner = runner

    def put(self, item: EcrRequest, block: bool = True, timeout: float | None = None) -> None:
        reason = self.runner.busy()
        command = item.fields.get("command", "pay")
        if reason is not None and command in ("pay", "settle"):
            item.answer = busy_answer(reason, item.fields)
            item.done.set()
            return
        if reason is not None and command == "status":
            item.answer = {"state": self.runner.terminal.machine.state.value, "busy": True}
            if item.fields.get("id") is not None:
                item.answer["id"] = item.fields["id"]
            item.done.set()
            return
        super().put(item, block, timeout)


def release_free_heap() -> None:
    """Boot allocates and frees a lot (config, imports, recovery); hand the freed heap
    back to the OS before settling at IDLE (glibc only; elsewhere a no-op)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def open_attended(terminal: Terminal) -> Attended | None:
    """Attended mode (docs/attended.md) when a keypad and a display are configured."""
    devices = terminal.config.devices
    display_url = devices.others.get("display")
    if not devices.keypad or not display_url or terminal.ports.pinpad is None:
        return None
    from hal.registry import open_device
    from terminal.attended import Attended

    return Attended(terminal.ports, open_device("display", display_url))


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    config = load_config(args.config)
    terminal = open_terminal(config)
    endpoint = None
    try:
        report = terminal.boot()
        attended = open_attended(terminal)
        runner = Runner(terminal, attended)
        if args.ecr:
            endpoint = open_ecr(args.ecr, runner.requests)
            endpoint.on_cancel = runner.cancel
            endpoint.start()

        def stop(signum: int, frame: object) -> None:
            runner.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        ecr = ""
        if endpoint is not None:
            ecr = f", ECR on {args.ecr}" if not hasattr(endpoint, "port") else (
                f", ECR on tcp://127.0.0.1:{endpoint.port}"
            )  # fmt: skip
        print(
            f"posterm run: {terminal.machine.state.value} after "
            f"{(time.perf_counter() - started) * 1000:.0f} ms "
            f"(signed on: {str(report.signed_on).lower()}){ecr}"
            + (", attended on the keypad and display" if attended is not None else ""),
            flush=True,
        )
        release_free_heap()
        if attended is not None:
            attended.start()
        runner.serve()
    finally:
        if endpoint is not None:
            endpoint.stop()
        terminal.close()
    print("posterm run: stopped", file=sys.stderr, flush=True)
    return 0
