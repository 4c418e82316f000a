"""The terminal's explicit state machine: every state and transition in one table.

The table is data, so it can be checked (every state reachable, no dead ends) and
drawn (`posterm states --dot`). The machine only moves between states and records
when it did, using an injected clock so a run replays exactly; the work done in a
state lives in the flows, which report back with a :class:`Trigger`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from terminal.errors import TerminalError


class State(enum.Enum):
    BOOT = "boot"
    SELF_TEST = "self_test"
    RECOVERY = "recovery"
    SIGN_ON = "sign_on"
    OUT_OF_SERVICE = "out_of_service"
    LOGGED_OUT = "logged_out"
    IDLE = "idle"
    AMOUNT_ENTRY = "amount_entry"
    AWAIT_CARD = "await_card"
    CARD_PROCESSING = "card_processing"
    PIN_ENTRY = "pin_entry"
    ONLINE = "online"
    COMPLETION = "completion"
    REVERSAL = "reversal"
    RECEIPT = "receipt"
    REMOVE_CARD = "remove_card"
    SETTLEMENT = "settlement"
    REPORT = "report"


class Trigger(enum.Enum):
    POWER_ON = "power_on"
    SELF_TEST_PASSED = "self_test_passed"
    SELF_TEST_FAILED = "self_test_failed"
    JOURNAL_RECOVERED = "journal_recovered"
    SIGNED_ON = "signed_on"
    HOST_UNREACHABLE = "host_unreachable"
    LOGIN_OK = "login_ok"
    LOGIN_FAILED = "login_failed"
    IDLE_TIMEOUT = "idle_timeout"
    LOGOUT = "logout"
    START_TRANSACTION = "start_transaction"
    AMOUNT_ENTERED = "amount_entered"
    CARD_INSERTED = "card_inserted"
    CARD_TAPPED = "card_tapped"
    CARD_SWIPED = "card_swiped"
    QR_SCANNED = "qr_scanned"
    PAN_KEYED = "pan_keyed"
    PIN_REQUESTED = "pin_requested"
    PIN_DONE = "pin_done"
    GO_ONLINE = "go_online"
    HOST_ANSWERED = "host_answered"
    NO_VALID_RESPONSE = "no_valid_response"
    REVERSAL_STORED = "reversal_stored"
    CARD_DECIDED = "card_decided"
    FALLBACK = "fallback"
    PRINTED = "printed"
    PRINTER_FAULT = "printer_fault"
    CARD_REMOVED = "card_removed"
    CANCEL = "cancel"
    START_SETTLEMENT = "start_settlement"
    SETTLEMENT_DONE = "settlement_done"
    START_REPORT = "start_report"
    REPORT_DONE = "report_done"
    RETRY = "retry"
    RECEIPT_HELD = "receipt_held"
    REMOVAL_TIMEOUT = "removal_timeout"


S, T = State, Trigger
# (from state, trigger) -> to state. Cancel is allowed wherever a customer can cancel.
TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (S.BOOT, T.POWER_ON): S.SELF_TEST,
    (S.SELF_TEST, T.SELF_TEST_PASSED): S.RECOVERY,
    (S.SELF_TEST, T.SELF_TEST_FAILED): S.OUT_OF_SERVICE,
    (S.RECOVERY, T.JOURNAL_RECOVERED): S.SIGN_ON,
    (S.RECOVERY, T.HOST_UNREACHABLE): S.SIGN_ON,
    (S.SIGN_ON, T.SIGNED_ON): S.LOGGED_OUT,
    # Offline-capable: a terminal that cannot sign on still serves; SAF catches up later.
    (S.SIGN_ON, T.HOST_UNREACHABLE): S.LOGGED_OUT,
    (S.OUT_OF_SERVICE, T.RETRY): S.SELF_TEST,
    (S.LOGGED_OUT, T.LOGIN_OK): S.IDLE,
    (S.LOGGED_OUT, T.LOGIN_FAILED): S.LOGGED_OUT,
    (S.IDLE, T.IDLE_TIMEOUT): S.LOGGED_OUT,
    (S.IDLE, T.LOGOUT): S.LOGGED_OUT,
    (S.IDLE, T.START_TRANSACTION): S.AMOUNT_ENTRY,
    (S.IDLE, T.START_SETTLEMENT): S.SETTLEMENT,
    (S.IDLE, T.START_REPORT): S.REPORT,
    (S.AMOUNT_ENTRY, T.AMOUNT_ENTERED): S.AWAIT_CARD,
    (S.AMOUNT_ENTRY, T.CANCEL): S.IDLE,
    (S.AWAIT_CARD, T.CARD_INSERTED): S.CARD_PROCESSING,
    (S.AWAIT_CARD, T.CARD_TAPPED): S.CARD_PROCESSING,
    (S.AWAIT_CARD, T.CARD_SWIPED): S.CARD_PROCESSING,
    (S.AWAIT_CARD, T.PAN_KEYED): S.CARD_PROCESSING,
    (S.AWAIT_CARD, T.QR_SCANNED): S.ONLINE,
    (S.AWAIT_CARD, T.CANCEL): S.IDLE,
    # Void / completion: no card, the journaled original is the card data.
    (S.AWAIT_CARD, T.GO_ONLINE): S.ONLINE,
    (S.CARD_PROCESSING, T.PIN_REQUESTED): S.PIN_ENTRY,
    (S.CARD_PROCESSING, T.GO_ONLINE): S.ONLINE,
    (S.CARD_PROCESSING, T.CARD_DECIDED): S.RECEIPT,
    (S.CARD_PROCESSING, T.FALLBACK): S.AWAIT_CARD,
    (S.CARD_PROCESSING, T.CARD_REMOVED): S.RECEIPT,
    (S.CARD_PROCESSING, T.CANCEL): S.REMOVE_CARD,
    (S.PIN_ENTRY, T.PIN_DONE): S.CARD_PROCESSING,
    (S.PIN_ENTRY, T.CANCEL): S.REMOVE_CARD,
    (S.ONLINE, T.HOST_ANSWERED): S.COMPLETION,
    (S.ONLINE, T.NO_VALID_RESPONSE): S.REVERSAL,
    # Decided without an answer: a completion's advice stored (host-spec rule 2).
    (S.ONLINE, T.CARD_DECIDED): S.RECEIPT,
    (S.REVERSAL, T.REVERSAL_STORED): S.COMPLETION,
    # The request never left: the card decides offline (unable to go online).
    (S.REVERSAL, T.CARD_DECIDED): S.RECEIPT,
    (S.COMPLETION, T.CARD_DECIDED): S.RECEIPT,
    (S.COMPLETION, T.NO_VALID_RESPONSE): S.REVERSAL,
    (S.RECEIPT, T.PRINTED): S.REMOVE_CARD,
    (S.RECEIPT, T.PRINTER_FAULT): S.RECEIPT,
    # No printer, or a fault: the receipt stays in the journal / result for a reprint.
    (S.RECEIPT, T.RECEIPT_HELD): S.REMOVE_CARD,
    (S.REMOVE_CARD, T.CARD_REMOVED): S.IDLE,
    # A card left in the reader does not hold the terminal for ever.
    (S.REMOVE_CARD, T.REMOVAL_TIMEOUT): S.IDLE,
    (S.SETTLEMENT, T.SETTLEMENT_DONE): S.IDLE,
    (S.REPORT, T.REPORT_DONE): S.IDLE,
}


class InvalidTransition(TerminalError):
    def __init__(self, state: State, trigger: Trigger) -> None:
        super().__init__(f"no transition from {state.value} on {trigger.value}")
        self.state = state
        self.trigger = trigger


@dataclass(frozen=True, slots=True)
class Step:
    at: float
    source: State
    trigger: Trigger
    target: State


@dataclass
class Machine:
    """Moves between states by the table; keeps the history for replay and audit."""

    clock: Callable[[], float]
    state: State = State.BOOT
    history: list[Step] = field(default_factory=list)
    listeners: list[Callable[[Step], None]] = field(default_factory=list)

    def can(self, trigger: Trigger) -> bool:
        return (self.state, trigger) in TRANSITIONS

    def fire(self, trigger: Trigger) -> State:
        target = TRANSITIONS.get((self.state, trigger))
        if target is None:
            raise InvalidTransition(self.state, trigger)
        step = Step(self.clock(), self.state, trigger, target)
        self.history.append(step)
        self.state = target
        for listener in self.listeners:
            listener(step)
        return target


def reachable(start: State = State.BOOT) -> set[State]:
    seen = {start}
    frontier = [start]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def to_dot(transitions: Iterable[tuple[tuple[State, Trigger], State]] | None = None) -> str:
    """Graphviz source of the table, for `posterm states --dot`."""
    items = TRANSITIONS.items() if transitions is None else transitions
    lines = ["digraph posterm {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for (source, trigger), target in items:
        lines.append(f'  {source.value} -> {target.value} [label="{trigger.value}"];')
    lines.append("}")
    return "\n".join(lines)
