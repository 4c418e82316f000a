"""Store-and-forward: what the journal says is owed to the host, sent in host-spec order.

host-spec rule 1: queued reversals go first, each repeated (0401 after the first try)
until a 0410 arrives; rule 2: advices then follow in the order they happened, each
repeated until a 0230 arrives; ``94`` on either means the host already has it. No other
request may leave while a reversal is queued — :meth:`Saf.exchange` enforces it.
Failed rounds back off exponentially with jitter (clock and random source injected).
"""

from __future__ import annotations

import datetime as dt
import logging
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass

from terminal.hostmsg import builders
from terminal.hostmsg.client import HostClient, NoValidResponse, Outcome, Response
from terminal.hostmsg.keysource import KeySession, KeySource
from terminal.hostmsg.message import Message
from terminal.journal import Journal, QueuedAdvice, QueuedReversal

log = logging.getLogger(__name__)

# A 0410 / 0230 with one of these codes did not take: the host could not process it
# (96 also answers a request whose MAC failed), so the terminal sends it again.
RETRY_CODES = frozenset({"91", "96"})


@dataclass(frozen=True, slots=True)
class DrainResult:
    reversals_sent: int
    advices_sent: int
    reversals_left: int
    advices_left: int
    error: str | None = None

    @property
    def empty(self) -> bool:
        return not self.reversals_left and not self.advices_left


class Backoff:
    """Exponential back-off with "equal jitter": half the delay fixed, half random."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self._random = random
        self.failures = 0

    def delay(self) -> float:
        if self.failures == 0:
            return 0.0
        base = min(self.maximum, self.initial * 2 ** (self.failures - 1))
        return float(base / 2 + base / 2 * self._random())

    def failed(self) -> float:
        self.failures += 1
        return self.delay()

    def succeeded(self) -> None:
        self.failures = 0


class Saf:
    """Drains the reversal and advice queues of ``journal`` through ``client``.

    Parameters
    ----------
    now:
        The terminal's local wall time (DE 12/13 of reversals), injected.
    monotonic:
        For back-off scheduling, injected.
    """

    def __init__(
        self,
        journal: Journal,
        client: HostClient,
        keys: KeySource,
        *,
        now: Callable[[], dt.datetime] = dt.datetime.now,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        self.journal = journal
        self.client = client
        self.keys = keys
        self._now = now
        self._monotonic = monotonic
        self.backoff = backoff or Backoff(1.0, 60.0)
        self._not_before = 0.0

    # ---------------------------------------------------------------- scheduling

    def due(self) -> bool:
        """True when something is queued and the back-off delay has passed."""
        if self._monotonic() < self._not_before:
            return False
        return self.journal.reversal_pending() or bool(self.journal.pending_advices())

    def seconds_until_due(self) -> float:
        return max(0.0, self._not_before - self._monotonic())

    def drain(self, *, force: bool = False) -> DrainResult:
        """Send every queued reversal, then every queued advice, stopping at the first
        that gets no valid answer (order is kept: nothing overtakes it). Unless
        ``force``, does nothing while backing off."""
        if not force and self._monotonic() < self._not_before:
            return self._result(0, 0, "backing off")
        reversals = advices = 0
        for reversal in self.journal.pending_reversals():
            error = self.send_reversal(reversal)
            if error:
                return self._failed(reversals, advices, error)
            reversals += 1
        for advice in self.journal.pending_advices():
            error = self.send_advice(advice)
            if error:
                return self._failed(reversals, advices, error)
            advices += 1
        self.backoff.succeeded()
        self._not_before = 0.0
        return self._result(reversals, advices, None)

    def _failed(self, reversals: int, advices: int, error: str) -> DrainResult:
        delay = self.backoff.failed()
        self._not_before = self._monotonic() + delay
        log.info("store-and-forward paused %.1f s: %s", delay, error)
        return self._result(reversals, advices, error)

    def _result(self, reversals: int, advices: int, error: str | None) -> DrainResult:
        return DrainResult(
            reversals_sent=reversals,
            advices_sent=advices,
            reversals_left=len(self.journal.pending_reversals()),
            advices_left=len(self.journal.pending_advices()),
            error=error,
        )

    # ---------------------------------------------------------------- one message

    def reversal_message(self, reversal: QueuedReversal) -> Message:
        txn = self.journal.transaction(reversal.txn_id)
        return builders.reversal(
            original_mti=txn.mti or "0200",
            original_stan=txn.stan,
            original_datetime=txn.local_datetime,
            original_fields=txn.request,
            response_fields=txn.response,
            stan=reversal.stan,
            when=self._now(),
            pan=self.journal.pan(txn.id) if txn.has_pan else None,
            repeat=reversal.attempts > 0,
        )

    def send_reversal(self, reversal: QueuedReversal) -> str | None:
        """One try; None when acknowledged, else why not."""
        message = self.reversal_message(reversal)
        # Counted before it leaves: after a crash mid-send the repeat goes out as 0401.
        self.journal.reversal_attempted(reversal.id)
        outcome = self.client.exchange(message, self.keys.next_session())
        if isinstance(outcome, NoValidResponse):
            return outcome.reason
        code = outcome.code or ""
        if code in RETRY_CODES:
            return f"reversal answered {code}"
        self.journal.reversal_acknowledged(reversal.id, code)  # 94: host already has it
        return None

    def advice_message(self, advice: QueuedAdvice) -> Message:
        txn = self.journal.transaction(advice.txn_id)
        fields = dict(advice.fields)
        fields.setdefault(11, txn.stan)
        if txn.has_pan and 2 not in fields:
            pan = self.journal.pan(txn.id)
            if pan:
                fields[2] = pan
        return Message("0220", dict(sorted(fields.items())))

    def send_advice(self, advice: QueuedAdvice) -> str | None:
        message = self.advice_message(advice)
        self.journal.advice_attempted(advice.id)
        outcome = self.client.exchange(message, self.keys.next_session())
        if isinstance(outcome, NoValidResponse):
            return outcome.reason
        code = outcome.code or ""
        if code in RETRY_CODES:
            return f"advice answered {code}"
        self.journal.advice_acknowledged(advice.id, code, outcome.message.text(37))
        return None

    # ---------------------------------------------------------------- guarded exchange

    def exchange(self, request: Message, session: KeySession | None = None) -> Outcome:
        """Send a new request only once no reversal is owed (host-spec rule 1: the
        reversal is sent before any other message). With reversals still queued after
        a forced drain, the request is not sent (``NoValidResponse(sent=False)``)."""
        if self.journal.reversal_pending():
            result = self.drain(force=True)
            if result.reversals_left:
                return NoValidResponse(f"not sent: reversal pending ({result.error})", sent=False)
        return self.client.exchange(request, session or self.keys.next_session())


__all__ = ["Backoff", "DrainResult", "Response", "Saf"]
