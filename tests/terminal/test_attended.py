"""Attended mode driven like a person at the handset: SimKeypad key presses, the
in-process sim card, the sim host over real TCP, the screens SimDisplay recorded, the
state machine's history and the host's ledger (tests/terminal/attended_rig.py)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sim.card import VirtualCard
from terminal.attended import Screen, amount_text
from terminal.commands.run import busy_answer
from terminal.ecr import EcrRequest
from terminal.machine import State, Trigger
from tests.terminal.attended_rig import CASHIER, PAN, SUPERVISOR, Handset, handset

FITS = 16  # every screen fits 16 x 4


def sent(h: Handset) -> list[dict]:
    return [m for m in h.rig.host.ledger.messages() if m.get("mti") not in ("0800", "0810")]


def triggers(h: Handset) -> list[Trigger]:
    return [step.trigger for step in h.terminal.machine.history]


def test_login_sale_online_pin_receipt_remove_card_idle_logout(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        assert h.state is State.LOGGED_OUT and "OPERATOR LOG-IN" in h.screen()
        h.press("1001")
        assert "ID: 1001" in h.screen()
        h.press("E1111")
        assert "PASSWORD: ****" in h.screen() and "1111" not in h.screen()
        h.press("E")
        assert h.state is State.IDLE and h.ui.screen is Screen.MENU
        assert "1 SALE" in h.screen()
        h.press("1")
        assert h.state is State.AMOUNT_ENTRY
        h.press("1")
        assert "GBP 0.01" in h.screen()
        h.press("25")
        assert "GBP 1.25" in h.screen()
        h.press("0")
        assert "GBP 12.50" in h.screen()
        h.press("E")
        assert h.state is State.AWAIT_CARD and "INSERT" in h.screen()
        assert sent(h) == []
        h.insert()  # the card → the same run_flow as `posterm pay`, PIN by the PIN pad
        assert h.ui.last is not None and h.ui.last.outcome is not None
        assert h.ui.last.outcome.decision == "approved", h.ui.last.outcome
        assert h.state is State.REMOVE_CARD and "REMOVE CARD" in h.screen()
        assert "APPROVED" in h.screen() and "GBP 12.50" in h.screen()
        assert h.seen("ENTER PIN") or h.seen("PIN")  # masked echo on the same display
        h.remove()
        assert h.state is State.IDLE
        assert len(h.printer.printed) == 2 and "PIN VERIFIED" in h.printer.printed[1]
        assert PAN not in "".join(h.printer.printed)
        assert h.rig.host.ledger.net_amount(pan=PAN) == 1250
        request = h.rig.host.ledger.messages(mti="0200")[0]["fields"]
        assert request["4"] == "000000001250" and "52" in request  # online PIN block
        path = [t.value for t in triggers(h)[triggers(h).index(Trigger.LOGIN_OK) :]]
        assert " ".join(path) == (
            "login_ok start_transaction amount_entered card_inserted pin_requested pin_done "
            "go_online host_answered card_decided printed card_removed"
        )
        h.wait(3.5)  # the result screen times out to the menu
        assert h.ui.screen is Screen.MENU
        h.wait(h.terminal.config.timeouts.operator_idle - 1)
        assert h.state is State.IDLE  # not yet
        h.wait(2)
        assert h.state is State.LOGGED_OUT and h.ui.session is None
        assert "IDLE LOG-OUT" in h.screen()
        assert triggers(h)[-1] is Trigger.IDLE_TIMEOUT
        events = [row["event"] for row in h.terminal.ports.journal.audit_trail()]
        assert "auto logout" in events
        assert all(len(row) == FITS for screen in h.display.screens for row in screen)


def test_wrong_password_locks_the_operator_out(tmp_path: Path) -> None:
    with handset(tmp_path, extra_toml="\n[operators]\nmax_failures = 3\n") as h:
        for _ in range(2):
            h.press("1001E9999E")
            assert "LOGIN FAILED" in h.screen() and h.state is State.LOGGED_OUT
        h.press("1001E9999E")
        assert "LOCKED OUT" in h.screen()
        h.login(CASHIER)  # the right password no longer helps
        assert "LOCKED OUT" in h.screen() and h.state is State.LOGGED_OUT
        assert triggers(h).count(Trigger.LOGIN_FAILED) == 4
        assert Trigger.LOGIN_OK not in triggers(h)
        assert "9999" not in str(h.terminal.ports.journal.audit_trail())


def test_cashier_refused_refund_supervisor_allowed(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login(CASHIER)
        h.press("2")
        assert "NOT ALLOWED" in h.screen() and "SUPERVISOR" in h.screen()
        assert h.state is State.IDLE and Trigger.START_TRANSACTION not in triggers(h)
        h.press("E0")  # dismiss, log out
        assert h.state is State.LOGGED_OUT
        h.login(SUPERVISOR)
        h.press("2500E")
        assert h.state is State.AWAIT_CARD
        h.insert()
        assert h.ui.last is not None and h.ui.last.outcome.decision == "approved"
        assert h.rig.host.ledger.net_amount(pan=PAN) == -500


def test_cancel_during_amount_entry_sends_nothing(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login()
        h.press("1125B")  # sale, 1 2 5, backspace
        assert "GBP 0.12" in h.screen()
        h.press("X")  # clear
        assert "GBP 0.00" in h.screen()
        h.press("99C")
        assert h.state is State.IDLE and "CANCELLED" in h.screen()
        assert h.journal_rows() == [] and sent(h) == []
        assert triggers(h)[-1] is Trigger.CANCEL


def test_cancel_during_card_wait_sends_nothing(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login()
        h.press("1999E")
        assert h.state is State.AWAIT_CARD
        h.press("C")
        assert h.state is State.IDLE and "CANCELLED" in h.screen()
        h.insert()  # a card arriving after the cancel starts nothing
        assert h.journal_rows() == [] and sent(h) == []
        assert h.rig.host.ledger.messages(mti="0200") == []


def test_card_wait_times_out_to_idle(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login()
        h.press("1999E")
        h.wait(h.terminal.config.timeouts.card_insert + 1)
        assert h.state is State.IDLE and "TIMED OUT" in h.screen()
        assert sent(h) == []


def test_two_merchants_choose_the_second(tmp_path: Path) -> None:
    cafe = '\n[[merchants]]\nname = "Cafe"\ntid = "TERM0002"\nmid = "MERCHANT0000002"\n'
    with handset(tmp_path, extra_toml=cafe) as h:
        h.login()
        h.press("1")
        assert h.ui.screen is Screen.MERCHANT and "2 Cafe" in h.screen()
        h.press("2")
        h.press("700E")
        h.insert()
        assert h.ui.last is not None and h.ui.last.outcome.decision == "approved"
        fields = h.rig.host.ledger.messages(mti="0200")[0]["fields"]
        assert fields["41"] == "TERM0002" and fields["42"] == "MERCHANT0000002"
        h.remove()
        h.press("E1E")  # dismiss; sale; ENTER = the default (first) profile
        h.press("300E")
        h.insert()
        fields = h.rig.host.ledger.messages(mti="0200")[1]["fields"]
        assert fields["41"] == "TERM0001"


def test_jpy_amount_has_no_minor_unit(tmp_path: Path) -> None:
    replace = {'currency_code = "0826"': 'currency_code = "0392"', "currency_exponent = 2":
               "currency_exponent = 0"}  # fmt: skip
    with handset(tmp_path, replace=replace, currency="392") as h:
        h.login()
        h.press("11250")
        assert "JPY 1,250" in h.screen()
        h.press("E")
        assert "JPY 1,250" in h.screen()
        h.insert()
        fields = h.rig.host.ledger.messages(mti="0200")[0]["fields"]
        assert fields["4"] == "000000001250" and fields["49"] == "392"


def test_void_by_rrn_at_the_keypad(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login(SUPERVISOR)
        h.press("11000E")
        h.insert()
        h.remove()
        assert h.ui.last is not None and h.ui.last.txn is not None
        rrn = h.ui.last.txn.rrn
        h.press("E3")
        assert h.ui.screen is Screen.RRN
        h.press(f"{rrn}E")
        assert h.ui.last.request.type == "void" and h.ui.last.outcome.decision == "approved"
        assert h.state is State.IDLE
        assert h.rig.host.ledger.net_amount(pan=PAN) == 0


def test_x_report_and_settlement_for_a_supervisor(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login(CASHIER)
        h.press("9")
        assert "NOT ALLOWED" in h.screen()
        h.press("E0")
        h.login(SUPERVISOR)
        h.press("1450E")
        h.insert()
        h.remove()
        h.press("E8")
        assert "DR 1 GBP 4.50" in h.screen()
        assert Trigger.REPORT_DONE in triggers(h)
        h.press("E9")
        assert "CLOSED" in h.screen(), h.screen()
        assert h.state is State.IDLE and triggers(h)[-1] is Trigger.SETTLEMENT_DONE
        assert h.rig.host.ledger.messages(mti="0500")


def test_ecr_refused_while_attended_transaction_runs(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login()
        h.press("1")
        request = EcrRequest({"id": 3, "type": "sale", "amount": 100, "operator": "admin"})
        h.runner.requests.put(request)
        assert request.done.is_set()
        assert request.answer == busy_answer(h.ui.busy() or "", {"id": 3})
        assert "busy" in request.answer["error"]
        status = EcrRequest({"command": "status"})
        h.runner.requests.put(status)
        assert status.answer == {"state": "amount_entry", "busy": True}
        h.press("C")
        assert h.ui.busy() is None


def test_ecr_sale_while_operator_logged_in_keeps_the_session(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login()
        h.reader.insert(VirtualCard("visa-online-pin"))
        request = EcrRequest({"type": "sale", "amount": 250, "operator": "admin",
                              "password": "demo-admin-pass", "pin": "1234"})  # fmt: skip
        h.runner.requests.put(request)
        h.keypad.press("1")  # pressed while the ECR transaction is queued: refused
        h.pump()
        assert request.answer is not None and request.answer["decision"] == "approved"
        assert h.state is State.IDLE and h.ui.session is not None
        assert h.ui.screen is Screen.MENU  # the "1" did not start a sale
        assert Trigger.LOGOUT not in triggers(h)


@given(st.lists(st.integers(0, 9), min_size=1, max_size=12), st.sampled_from([0, 2, 3]))
def test_digits_shift_in_from_the_right(digits: list[int], exponent: int) -> None:
    value = int("".join(map(str, digits)))
    text = amount_text(value, "0978", exponent)
    units, minor = divmod(value, 10**exponent)
    assert text.startswith("EUR ")
    assert text.replace(",", "").endswith(
        f"{units}" + (f".{minor:0{exponent}d}" if exponent else "")
    )


def test_amount_text_examples() -> None:
    assert amount_text(1250, "0826", 2) == "GBP 12.50"
    assert amount_text(1250, "0392", 0) == "JPY 1,250"
    assert amount_text(5, "0048", 3) == "0048 0.005"


def test_ecr_query_during_attended_entry_leaves_the_screen_and_keys(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login()
        h.press("12")
        h.ui.ecr_started()  # what Runner.answer does for a request it lets through
        h.keypad.press("5")
        h.ui.ecr_finished()
        h.pump()
        assert "GBP 0.25" in h.screen() and h.state is State.AMOUNT_ENTRY


def test_swipe_at_the_card_screen(tmp_path: Path) -> None:
    with handset(tmp_path) as h:
        h.login()
        h.press("1900E")
        assert "INSERT/SWIPE" in h.screen()
        h.magstripe.swipe(track2="4761739001010143=30121010000000000")  # magstripe-only card
        h.pump()
        assert h.ui.last is not None and h.ui.last.outcome.decision == "approved"
        assert h.ui.last.entry_mode == "021"
        assert h.state is State.IDLE and "APPROVED" in h.screen()
        assert h.rig.host.ledger.messages(mti="0200")[0]["fields"]["22"] == "021"


def test_cancel_at_the_pin_prompt_sends_nothing(tmp_path: Path) -> None:
    with handset(tmp_path, pin=None) as h:
        original = h.keypad.set_pin_sink

        def cancel_at_pin(sink):  # type: ignore[no-untyped-def]
            original(sink)
            if sink is not None:
                h.keypad.press("C")  # CANCEL goes to the secure PIN pad, not the queue

        h.keypad.set_pin_sink = cancel_at_pin  # type: ignore[method-assign]
        h.login()
        h.press("1800E")
        h.insert()
        assert h.ui.last is not None and h.ui.last.outcome.decision == "terminated"
        assert h.ui.last.outcome.reason == "cancelled"
        assert h.seen("PROCESSING")
        assert h.rig.host.ledger.messages(mti="0200") == []
        h.remove()
        assert h.state is State.IDLE
