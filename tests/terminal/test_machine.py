"""The state table: complete, reachable, no dead ends, and the machine obeys it."""

from __future__ import annotations

import itertools

import pytest

from terminal.cli import main
from terminal.machine import (
    TRANSITIONS,
    InvalidTransition,
    Machine,
    State,
    Trigger,
    reachable,
    to_dot,
)


def test_every_state_is_reachable_from_boot() -> None:
    assert reachable() == set(State)


def test_every_state_but_boot_has_a_way_out() -> None:
    sources = {source for (source, _) in TRANSITIONS}
    assert set(State) - sources == set()


def test_every_trigger_is_used() -> None:
    assert {trigger for (_, trigger) in TRANSITIONS} == set(Trigger)


def test_machine_follows_a_sale_and_records_history() -> None:
    ticks = itertools.count()
    machine = Machine(clock=lambda: float(next(ticks)))
    path = [
        Trigger.POWER_ON,
        Trigger.SELF_TEST_PASSED,
        Trigger.JOURNAL_RECOVERED,
        Trigger.SIGNED_ON,
        Trigger.LOGIN_OK,
        Trigger.START_TRANSACTION,
        Trigger.AMOUNT_ENTERED,
        Trigger.CARD_INSERTED,
        Trigger.PIN_REQUESTED,
        Trigger.PIN_DONE,
        Trigger.GO_ONLINE,
        Trigger.HOST_ANSWERED,
        Trigger.CARD_DECIDED,
        Trigger.PRINTED,
        Trigger.CARD_REMOVED,
    ]
    for trigger in path:
        machine.fire(trigger)
    assert machine.state is State.IDLE
    assert [step.trigger for step in machine.history] == path
    assert [step.at for step in machine.history] == [float(i) for i in range(len(path))]


def test_an_illegal_trigger_is_refused_and_state_kept() -> None:
    machine = Machine(clock=lambda: 0.0)
    with pytest.raises(InvalidTransition):
        machine.fire(Trigger.HOST_ANSWERED)
    assert machine.state is State.BOOT
    assert machine.history == []


def test_no_valid_response_always_goes_through_reversal() -> None:
    assert TRANSITIONS[(State.ONLINE, Trigger.NO_VALID_RESPONSE)] is State.REVERSAL
    assert TRANSITIONS[(State.COMPLETION, Trigger.NO_VALID_RESPONSE)] is State.REVERSAL


def test_states_command_prints_dot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["states", "--dot"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == to_dot()
    assert "online -> reversal" in out
