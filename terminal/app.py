"""Boot: wire devices from ``[devices]``, self-test, recover the journal, sign on, IDLE.

:func:`open_terminal` builds a :class:`Terminal` (journal, key source, host client,
store-and-forward, devices by URL through ``hal.registry``); :meth:`Terminal.boot`
walks the state machine from BOOT: self-tests (keys present, config valid, storage
writable, printer status, an installed firmware release intact) → journal recovery
(armed reversals queued, then reversals and advices drained: host-spec rules 1 and 2;
then an interrupted settlement is finished: rule 4; retention purge) → sign-on 0800
``001`` → LOGGED_OUT.
``posterm pay`` boots without the sign-on (it recovers, then runs one transaction).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hal.events import EventQueue
from hal.pinentry import SecurePinEntry
from hal.registry import open_device, parse_url
from terminal.config import Config
from terminal.errors import TerminalError
from terminal.flows.ports import Ports
from terminal.hostmsg import builders
from terminal.hostmsg.builders import Acceptor
from terminal.hostmsg.client import HostClient, Response
from terminal.hostmsg.keysource import open_key_source
from terminal.journal import Journal
from terminal.journal.datakey import data_key_source
from terminal.machine import Machine, State, Trigger
from terminal.saf import Backoff, Saf

log = logging.getLogger(__name__)


class SelfTestFailed(TerminalError):
    """A boot self-test failed; the message names which and why (no secrets)."""


@dataclass
class BootReport:
    """What boot found and did, for the log, `posterm run` and the benchmark."""

    self_tests: dict[str, str] = field(default_factory=dict)
    reversals_queued: int = 0
    reversals_sent: int = 0
    advices_sent: int = 0
    saf_error: str | None = None
    settlements_resumed: list[str] = field(default_factory=list)
    purged: int = 0
    signed_on: bool = False
    seconds: float = 0.0


def is_simulated(url: str | None) -> bool:
    return bool(url) and parse_url(url or "").scheme == "sim"


def open_printer(url: str | None, *, keep_stdout: bool) -> Any:
    """The receipt printer; with ``keep_stdout`` (``posterm pay``, whose stdout is the
    JSON object) a ``stdout`` printer writes to stderr instead."""
    if not url:
        return None
    if keep_stdout and parse_url(url).scheme == "stdout":
        return open_device("printer", url, stream=sys.stderr)
    if keep_stdout and is_simulated(url) and "stream=stdout" in url:
        return open_device("printer", url, stream="stderr")
    return open_device("printer", url)


def stdin_keyed_entry() -> str | None:
    """MOTO card data for ``posterm pay --entry keyed``: one ``PAN=YYMM`` line on stdin
    (the register or the operator's console; never a command-line argument)."""
    if sys.stdin is None or sys.stdin.isatty():
        return None
    line = sys.stdin.readline()
    return line.strip() or None


@dataclass
class Terminal:
    config: Config
    ports: Ports
    report: BootReport = field(default_factory=BootReport)

    @property
    def machine(self) -> Machine:
        return self.ports.machine

    def close(self) -> None:
        for device in (
            self.ports.contact_reader,
            self.ports.contactless_reader,
            self.ports.magstripe,
            self.ports.printer,
        ):
            if device is not None:
                with contextlib.suppress(Exception):  # closing is best effort
                    device.close()
        self.ports.client.close()
        self.ports.journal.close()

    # ------------------------------------------------------------------ boot

    def boot(self, *, sign_on: bool = True, owner_timeout: float = 30.0) -> BootReport:
        """BOOT → LOGGED_OUT. Recovery first claims the journal's owner lock (waiting up
        to ``owner_timeout`` s): beside a live ``posterm run`` or another command it
        raises JournalBusy instead of reversing that process's request in flight."""
        started = time.perf_counter()
        machine = self.machine
        machine.fire(Trigger.POWER_ON)
        try:
            self.self_test()
        except SelfTestFailed:
            machine.fire(Trigger.SELF_TEST_FAILED)
            raise
        machine.fire(Trigger.SELF_TEST_PASSED)
        self.recover(owner_timeout=owner_timeout)
        machine.fire(Trigger.JOURNAL_RECOVERED)
        if sign_on:
            self.report.signed_on = self.sign_on()
        machine.fire(Trigger.SIGNED_ON if self.report.signed_on else Trigger.HOST_UNREACHABLE)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def self_test(self) -> None:
        tests = self.report.self_tests
        tests["config"] = "ok"  # load_config validated it: an error names the key
        data_dir = self.config.terminal.data_dir
        probe = Path(data_dir) / f".selftest-{os.getpid()}"
        try:
            probe.write_bytes(b"ok")
            os.fsync(os.open(probe, os.O_RDONLY))
            probe.unlink()
        except OSError as error:
            raise SelfTestFailed(f"storage {data_dir} not writable ({error.strerror})") from None
        tests["storage"] = "ok"
        if not self.ports.journal.integrity_ok():
            raise SelfTestFailed(f"journal {self.config.journal.path} failed its integrity check")
        tests["journal"] = "ok"
        tests["keys"] = "ok"  # open_key_source verified the DUKPT slot under the root secret
        tests["firmware"] = self.firmware_check()
        printer = self.ports.printer
        if printer is not None:
            status = printer.status()
            tests["printer"] = str(getattr(status, "name", status) or "ok").lower()

    def firmware_check(self) -> str:
        """An installed firmware release (``data_dir/firmware/current``, posterm update
        apply) is re-verified: signed manifest under the pinned key, tree file by file
        (docs/decisions/firmware-bundles.md). A damaged one fails the self-test, so the
        terminal stays OUT_OF_SERVICE instead of taking payments on altered code."""
        root = Path(self.config.terminal.data_dir) / "firmware"
        if not (root / "current").is_symlink():
            return "none installed"  # run from a checkout or a package: nothing to check
        from terminal.update.errors import UpdateError  # only with a release (boot memory)
        from terminal.update.install import CURRENT, check_release, link_target

        target = link_target(root, CURRENT)
        name = target.name if target is not None else "current"
        try:
            if target is None:
                raise UpdateError("current is not a release link")
            release = check_release(target)
        except UpdateError as error:
            raise SelfTestFailed(f"firmware release {name} is damaged: {error}") from None
        except OSError as error:
            raise SelfTestFailed(
                f"firmware release {name} is unreadable ({error.strerror})"
            ) from None
        return f"ok {release.manifest.version}"

    def recover(self, *, owner_timeout: float = 30.0) -> None:
        """host-spec rules 1 and 2 at boot: what was sent without a recorded outcome is
        reversed; queued reversals go first, then advices in order. Only the owner of
        the journal recovers (claimed here, held until :meth:`close`)."""
        self.ports.journal.claim_owner(timeout=owner_timeout)
        self.report.reversals_queued = self.ports.journal.recover()
        result = self.ports.saf.drain(force=True)
        self.report.reversals_sent = result.reversals_sent
        self.report.advices_sent = result.advices_sent
        self.report.saf_error = result.error
        if result.empty and self.ports.journal.open_settlements():
            self.report.settlements_resumed = self.resume_settlements()
        # Retention policy at boot too; purge only takes settled rows of batches closed
        # longer ago than retention_days, never anything still owed to the host.
        self.report.purged = self.ports.journal.purge(self.config.journal.retention_days)

    def resume_settlements(self) -> list[str]:
        """A settlement interrupted after its write-ahead record (the host may have
        closed the batch) is finished before any new business (host-spec rule 4)."""
        from terminal.settlement import resume_open  # only when one is open (boot memory)

        ports = self.ports
        results = resume_open(
            ports.journal,
            ports.client,
            ports.keys,
            ports.saf,
            self.config.merchants,
            nii=self.config.host.nii,
            now=ports.now,
        )
        return [f"{r.merchant} batch {r.batch}: {r.result}" for r in results]

    def sign_on(self) -> bool:
        """0800 DE 70 ``001`` (host-spec: network management carries no KS and no MAC)."""
        merchant = self.config.merchant()
        message = builders.network_management(
            "sign_on",
            stan=self.ports.journal.next_stan(),
            acceptor=Acceptor(merchant.tid, merchant.mid, self.config.host.nii),
            when=self.ports.now(),
        )
        outcome = self.ports.client.exchange(message, None)
        return isinstance(outcome, Response) and outcome.code == "00"


def open_terminal(
    config: Config,
    *,
    pin: str | None = None,
    keep_stdout: bool = False,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], dt.datetime] = dt.datetime.now,
    devices: dict[str, Any] | None = None,
) -> Terminal:
    """Open journal, keys, host client and devices of ``config``.

    ``pin`` is typed by a simulated keypad (``posterm pay --pin``); ``devices`` replaces
    devices by kind (tests). Raises TerminalError/HalError/KeysError subclasses with a
    message naming what is missing.
    """
    journal = Journal(config.journal.path, data_key=data_key_source(config.keys.root_secret_file))
    journal.retention_days = config.journal.retention_days
    try:
        keys = open_key_source(config)
        client = HostClient.from_config(config.host)
        saf = Saf(
            journal,
            client,
            keys,
            now=now,
            backoff=Backoff(config.host.retry_initial, config.host.retry_max),
        )
        queue = EventQueue()
        urls = config.devices
        given = devices or {}

        def device(kind: str, url: str | None, **options: Any) -> Any:
            if kind in given:
                return given[kind]
            return open_device(kind, url, **options) if url else None

        keypad = device("keypad", urls.keypad, **({"pin": pin} if pin is not None else {}))
        pinpad = None
        if keypad is not None:
            keypad.attach(queue)
            pinpad = SecurePinEntry(keypad, queue)
        magstripe = device("magstripe", urls.others.get("magstripe"))
        if magstripe is not None:
            magstripe.attach(queue)
        printer = given.get("printer") or open_printer(urls.printer, keep_stdout=keep_stdout)
        simulated_pad = is_simulated(urls.keypad) and "keypad" not in given
        ports = Ports(
            config=config,
            journal=journal,
            client=client,
            saf=saf,
            keys=keys,
            machine=Machine(clock=clock),
            queue=queue,
            contact_reader=device("contact_reader", urls.contact_reader),
            contactless_reader=device("contactless_reader", urls.contactless_reader),
            magstripe=magstripe,
            pinpad=pinpad,
            printer=printer,
            keyed_entry=given.get("keyed_entry", stdin_keyed_entry),
            now=now,
            # A simulated keypad with no PIN to type must not hold the flow for 30 s.
            pin_timeout=0.5 if simulated_pad and pin is None else config.timeouts.pin_entry,
            card_timeout=config.timeouts.card_insert,
        )
    except BaseException:
        journal.close()
        raise
    return Terminal(config, ports)


def login_to_idle(terminal: Terminal) -> None:
    """The operator is logged in (checked by the caller): LOGGED_OUT → IDLE."""
    if terminal.machine.state is State.LOGGED_OUT:
        terminal.machine.fire(Trigger.LOGIN_OK)
