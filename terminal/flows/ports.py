"""The outside world a flow talks to, gathered in one object.

Built by :mod:`terminal.app` from the configuration (devices by URL through
``hal.registry``); tests build it directly with in-process devices.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hal.events import EventQueue
from terminal.config import Config
from terminal.hostmsg.client import HostClient
from terminal.hostmsg.keysource import KeySource
from terminal.journal import Journal
from terminal.machine import Machine, Trigger
from terminal.saf import Saf


@dataclass
class Ports:
    """Everything a step may use. ``None`` devices are simply not fitted."""

    config: Config
    journal: Journal
    client: HostClient
    saf: Saf
    keys: KeySource
    machine: Machine
    queue: EventQueue
    contact_reader: Any = None  # hal ContactReader
    contactless_reader: Any = None  # hal ContactlessReader
    magstripe: Any = None  # hal MagStripeReader (posts MagstripeSwiped)
    pinpad: Any = None  # hal PinPad (hal.pinentry.SecurePinEntry)
    printer: Any = None  # hal Printer
    keyed_entry: Callable[[], str | None] | None = None  # "PAN=YYMM" for MOTO
    now: Callable[[], dt.datetime] = dt.datetime.now
    random: Callable[[int], bytes] = os.urandom
    pin_timeout: float = 30.0
    card_timeout: float = 60.0
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Cancel the transaction in progress (ECR ``cancel``, a CANCEL key): steps stop
        before anything more is sent, and a PIN entry in progress ends as cancelled.
        Once a request has left, the host-spec rules decide, not the cancel."""
        self.cancelled.set()
        if self.pinpad is not None and hasattr(self.pinpad, "pin_key"):
            from hal.events import Key

            self.pinpad.pin_key(Key.CANCEL)

    def fire(self, trigger: Trigger) -> None:
        """Move the state machine when the table allows it from where it is (a flow
        run outside the full event loop, e.g. ``posterm pay``, starts in IDLE)."""
        if self.machine.can(trigger):
            self.machine.fire(trigger)
