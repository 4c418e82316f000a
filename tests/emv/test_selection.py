"""Application selection (EMV 4.4 Book 1, 12) against hand-built card responses."""

from __future__ import annotations

from emv.callbacks import Candidate
from emv.outcome import TerminationReason
from emv.selection import build_candidate_list, final_selection, ordered_candidates
from tests.emv.scripted import (
    MASTERCARD,
    OK,
    VISA,
    VISA_ELECTRON,
    RecordingCallbacks,
    ScriptedTransport,
    context,
    fci,
    read_cmd,
    select_cmd,
    t,
)

PSE = b"1PAY.SYS.DDF01"
NOT_FOUND = b"\x6a\x82"


def pse_entry(aid: bytes, priority: int = 1, label: bytes = b"APP") -> bytes:
    return t(0x61, t(0x4F, aid), t(0x50, label), t(0x87, bytes((priority,))))


def pse_table(*entries: bytes) -> dict[bytes, bytes]:
    return {
        select_cmd(PSE): fci(PSE, t(0x88, b"\x01")) + OK,
        read_cmd(1, 1): t(0x70, *entries) + OK,
        read_cmd(1, 2): b"\x6a\x83",
    }


def test_pse_lists_supported_applications_only() -> None:
    unknown = bytes.fromhex("A0000009999999")
    transport = ScriptedTransport(pse_table(pse_entry(VISA, 2), pse_entry(unknown, 1)))
    ctx = context()
    assert build_candidate_list(ctx, transport) is None
    assert [c.aid for c in ctx.candidates] == [VISA]
    assert ctx.candidates[0].priority == 2


def test_pse_select_6a81_terminates_card_blocked() -> None:
    transport = ScriptedTransport({select_cmd(PSE): b"\x6a\x81"})
    outcome = build_candidate_list(context(), transport)
    assert outcome is not None and outcome.reason is TerminationReason.CARD_BLOCKED


def test_pse_missing_falls_back_to_aid_list() -> None:
    table = {
        select_cmd(PSE): NOT_FOUND,
        select_cmd(VISA): fci(VISA, t(0x50, b"VISA")) + OK,
    }
    transport = ScriptedTransport(table)
    ctx = context()
    assert build_candidate_list(ctx, transport) is None
    assert [c.aid for c in ctx.candidates] == [VISA]
    # every terminal AID was tried after the PSE failed
    assert select_cmd(MASTERCARD) in transport.sent


def test_bad_pse_directory_record_falls_back_to_aid_list() -> None:
    table = pse_table(pse_entry(VISA))
    table[read_cmd(1, 1)] = t(0x71, b"\x01") + OK  # not a '70' template
    table[select_cmd(MASTERCARD)] = fci(MASTERCARD, t(0x50, b"MC")) + OK
    ctx = context()
    assert build_candidate_list(ctx, ScriptedTransport(table)) is None
    assert [c.aid for c in ctx.candidates] == [MASTERCARD]


def test_partial_selection_collects_every_occurrence() -> None:
    # Book 1, 12.3.3: DF names longer than the terminal AID, SELECT next (P2=02).
    first = VISA + b"\x01"
    second = VISA + b"\x02"
    table = {
        select_cmd(PSE): NOT_FOUND,
        select_cmd(VISA): fci(first) + OK,
        select_cmd(VISA, True): None,
    }
    answers = iter([fci(second) + OK, NOT_FOUND])
    table[select_cmd(VISA, True)] = lambda _apdu: next(answers)  # type: ignore[assignment]
    ctx = context()
    assert build_candidate_list(ctx, ScriptedTransport(table)) is None  # type: ignore[arg-type]
    assert [c.aid for c in ctx.candidates] == [first, second]


def test_partial_selection_off_skips_longer_names() -> None:
    from tests.emv.scripted import config

    table = {select_cmd(PSE): NOT_FOUND, select_cmd(VISA): fci(VISA + b"\x01") + OK}
    ctx = context(config(partial_selection=False))
    outcome = build_candidate_list(ctx, ScriptedTransport(table))
    assert outcome is not None and outcome.reason is TerminationReason.NO_COMMON_APPLICATION


def test_blocked_application_6283_is_excluded() -> None:
    table = {
        select_cmd(PSE): NOT_FOUND,
        select_cmd(VISA): fci(VISA) + b"\x62\x83",
        select_cmd(VISA_ELECTRON): fci(VISA_ELECTRON) + OK,
    }
    ctx = context()
    assert build_candidate_list(ctx, ScriptedTransport(table)) is None
    assert [c.aid for c in ctx.candidates] == [VISA_ELECTRON]


def test_no_common_application_terminates() -> None:
    outcome = build_candidate_list(context(), ScriptedTransport({select_cmd(PSE): NOT_FOUND}))
    assert outcome is not None and outcome.reason is TerminationReason.NO_COMMON_APPLICATION


def test_priority_order_puts_no_priority_last() -> None:
    apps = [
        Candidate(b"A" * 5, priority=0),
        Candidate(b"B" * 5, priority=2),
        Candidate(b"C" * 5, priority=1),
    ]
    assert [c.aid[:1] for c in ordered_candidates(apps)] == [b"C", b"B", b"A"]


def test_cardholder_chooses_among_several() -> None:
    ctx = context()
    ctx.candidates = [Candidate(VISA, priority=2), Candidate(MASTERCARD, priority=1)]
    callbacks = RecordingCallbacks(choice=1)
    table = {select_cmd(VISA): fci(VISA, t(0x50, b"V")) + OK}
    assert final_selection(ctx, ScriptedTransport(table), callbacks) is None
    assert [c.aid for c in callbacks.choices[0]] == [MASTERCARD, VISA]  # priority order
    assert ctx.selected is not None and ctx.selected.aid == VISA
    assert ctx.card[0x84] == VISA


def test_confirmation_refused_terminates() -> None:
    ctx = context()
    ctx.candidates = [Candidate(VISA, priority=1, confirmation_required=True)]
    outcome = final_selection(ctx, ScriptedTransport({}), RecordingCallbacks(confirm=False))
    assert outcome is not None and outcome.reason is TerminationReason.CANCELLED


def test_failed_final_select_removes_candidate_and_retries() -> None:
    ctx = context()
    ctx.candidates = [Candidate(VISA, priority=1), Candidate(MASTERCARD, priority=2)]
    table = {
        select_cmd(VISA): b"\x6a\x82",
        select_cmd(MASTERCARD): fci(MASTERCARD) + OK,
    }
    transport = ScriptedTransport(table)
    assert final_selection(ctx, transport, RecordingCallbacks(choice=0)) is None
    assert ctx.selected is not None and ctx.selected.aid == MASTERCARD
    assert [c.aid for c in ctx.candidates] == [MASTERCARD]


def test_final_select_failing_for_all_terminates() -> None:
    ctx = context()
    ctx.candidates = [Candidate(VISA, priority=1)]
    outcome = final_selection(ctx, ScriptedTransport({}), RecordingCallbacks())
    assert outcome is not None and outcome.reason is TerminationReason.NO_COMMON_APPLICATION


def test_pse_ddf_entry_is_followed() -> None:
    # Book 1, 12.3.2: a directory entry naming a DDF (9D) is selected and read too.
    ddf = b"\xd2\x76\x00\x00\x01"
    table = pse_table(t(0x61, t(0x9D, ddf)))
    table[select_cmd(ddf)] = fci(ddf, t(0x88, b"\x02")) + OK
    table[read_cmd(2, 1)] = t(0x70, pse_entry(MASTERCARD, 3)) + OK
    table[read_cmd(2, 2)] = b"\x6a\x83"
    ctx = context()
    assert build_candidate_list(ctx, ScriptedTransport(table)) is None
    assert [c.aid for c in ctx.candidates] == [MASTERCARD]


def test_without_confirmation_support_apps_needing_it_are_dropped() -> None:
    import dataclasses

    from tests.emv.scripted import config

    cfg = dataclasses.replace(config(), support_cardholder_confirmation=False)
    ctx = context(cfg)
    ctx.candidates = [
        Candidate(VISA, priority=1, confirmation_required=True),
        Candidate(MASTERCARD, priority=2),
    ]
    callbacks = RecordingCallbacks()
    table = {select_cmd(MASTERCARD): fci(MASTERCARD) + OK}
    assert final_selection(ctx, ScriptedTransport(table), callbacks) is None
    assert ctx.selected is not None and ctx.selected.aid == MASTERCARD
    assert callbacks.choices == []  # no cardholder choice offered


def test_failed_final_select_says_try_again() -> None:
    class Display(RecordingCallbacks):
        def __init__(self) -> None:
            super().__init__()
            self.shown: list[object] = []

        def display(self, message):  # type: ignore[no-untyped-def]
            self.shown.append(message)

    from emv.callbacks import DisplayMessage

    ctx = context()
    ctx.candidates = [Candidate(VISA, priority=1), Candidate(MASTERCARD, priority=2)]
    callbacks = Display()
    final_selection(
        ctx, ScriptedTransport({select_cmd(MASTERCARD): fci(MASTERCARD) + OK}), callbacks
    )
    assert callbacks.shown == [DisplayMessage.TRY_AGAIN]
