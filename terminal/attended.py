"""Attended mode: the handset operated from its own keypad and screen (docs/attended.md).

One event-driven UI on the hal event queue that ``posterm run`` already reads: log-in
(operator ID + password, masked, lock-out through :mod:`terminal.operators`), the IDLE
menu with role checks, merchant choice, amount entry in the currency's exponent, card
wait, then the SAME ``run_flow`` as ``posterm pay`` (PIN through the secure PIN pad),
result, receipt, "remove card", and automatic log-out when idle. The state machine is
fired as the screens move, so ``posterm states`` draws what the operator sees.

The UI never blocks the loop while it waits for a person: every wait is a screen that
reacts to the next event or to :meth:`Attended.tick` (clock injected). Only the
transaction itself (``run_flow``) runs inside the loop, as an ECR request does.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from hal.events import (
    CardInserted,
    CardRemoved,
    ContactlessCardPresented,
    Event,
    InputRejected,
    Key,
    KeyPressed,
    MagstripeSwiped,
)
from hal.ports import Align, TextLine
from terminal.config import Merchant
from terminal.flows import TransactionContext, TxnRequest, run_flow
from terminal.flows.ports import Ports
from terminal.machine import State, Trigger
from terminal.operators import PERMISSIONS, LoginFailure, Operators, PermissionDenied, Session
from terminal.receipts import CURRENCIES

log = logging.getLogger(__name__)

MAX_AMOUNT_DIGITS = 12  # DE 4 is n12
MAX_ENTRY = 32  # operator ID / password characters taken at the keypad
RESULT_SECONDS = 3.0  # a result or message screen stays this long unless a key is pressed


@dataclasses.dataclass(frozen=True, slots=True)
class MenuItem:
    key: str  # the digit that picks it
    label: str
    action: str  # a transaction type, "x_report", "settle" or "logout"


MENU: tuple[MenuItem, ...] = (
    MenuItem("1", "SALE", "sale"),
    MenuItem("2", "REFUND", "refund"),
    MenuItem("3", "VOID", "void"),
    MenuItem("4", "PRE-AUTH", "preauth"),
    MenuItem("5", "COMPLETION", "completion"),
    MenuItem("6", "BALANCE", "balance"),
    MenuItem("7", "TOP-UP", "topup"),
    MenuItem("8", "X REPORT", "x_report"),
    MenuItem("9", "SETTLEMENT", "settle"),
    MenuItem("0", "LOG OUT", "logout"),
)
AMOUNT_TYPES = frozenset({"sale", "refund", "preauth", "topup", "completion"})
ORIGINAL_TYPES = frozenset({"void", "completion"})  # look up the original by RRN
CARD_TYPES = frozenset({"sale", "refund", "preauth", "balance", "topup"})


class Screen(enum.Enum):
    LOGIN_ID = "login_id"
    LOGIN_PASSWORD = "login_password"  # noqa: S105 - a screen name
    MENU = "menu"
    MERCHANT = "merchant"
    RRN = "rrn"
    AMOUNT = "amount"
    CARD = "card"
    PROCESSING = "processing"
    REMOVE_CARD = "remove_card"
    MESSAGE = "message"  # result / refusal / report: any key or RESULT_SECONDS → menu


# Screens during which the terminal is taken by the attended operator (ECR refused).
BUSY_SCREENS = frozenset(
    {Screen.MERCHANT, Screen.RRN, Screen.AMOUNT, Screen.CARD, Screen.PROCESSING,
     Screen.REMOVE_CARD}
)  # fmt: skip


def exponent_of(config: Any, merchant: Merchant) -> int:
    """The currency exponent (5F36) of a merchant profile's currency: the configured one
    for the terminal currency, ISO 4217's for another (2 when unknown)."""
    if merchant.currency_code == config.terminal.currency_code:
        return int(config.terminal.currency_exponent)
    return CURRENCIES.get(merchant.currency_code, ("", 2))[1]


def amount_text(amount: int, currency_code: str, exponent: int) -> str:
    """``1250`` → ``GBP 12.50`` (exponent 2); ``1250`` → ``JPY 1,250`` (exponent 0)."""
    alpha = CURRENCIES.get(currency_code, (currency_code, 2))[0]
    units, minor = divmod(amount, 10**exponent)
    text = f"{units:,}" if exponent == 0 else f"{units:,}.{minor:0{exponent}d}"
    return f"{alpha} {text}"


class AttendedPorts(Ports):
    """The terminal's ports for one attended transaction: the same devices, journal
    and machine, but the final "card removed" waits for the card to really leave."""

    def fire(self, trigger: Trigger) -> None:
        if (
            trigger is Trigger.CARD_REMOVED
            and self.machine.state is State.REMOVE_CARD
            and _card_present(self.contact_reader)
        ):
            return  # the UI fires it on CardRemoved (or the removal time-out)
        super().fire(trigger)


def _card_present(reader: Any) -> bool:
    if reader is None:
        return False
    try:
        return bool(reader.card_present())
    except Exception:  # noqa: BLE001 - a reader gone is "no card"
        return False


class NullDisplay:
    """No screen fitted: screens are only remembered (``current``)."""

    columns = 16
    rows = 4

    def __init__(self) -> None:
        self.current: list[str] = []

    def show(self, lines: Sequence[str | TextLine]) -> None:
        self.current = [line if isinstance(line, str) else line.text for line in lines]

    def clear(self) -> None:
        self.current = []

    def close(self) -> None:
        pass


class PinScreen:
    """The display as the secure PIN pad sees it: the masked echo goes to the screen;
    when PIN entry ends (the pad clears the screen) "processing" is drawn instead."""

    def __init__(self, ui: Attended) -> None:
        self.ui = ui
        self.columns = ui.display.columns
        self.rows = ui.display.rows

    def show(self, lines: Sequence[str | TextLine]) -> None:
        self.ui.display.show(lines)

    def clear(self) -> None:
        self.ui.processing()

    def close(self) -> None:
        pass


class Attended:
    """The attended UI. Feed it every hal event (:meth:`handle`) and call :meth:`tick`
    from the loop; ``clock`` (seconds) drives the idle log-out and the screen time-outs.

    ``run`` is the transaction runner (``terminal.flows.run_flow``; tests may wrap it).
    """

    def __init__(
        self,
        ports: Ports,
        display: Any = None,
        *,
        operators: Operators | None = None,
        clock: Callable[[], float] = time.time,
        run: Callable[[TxnRequest, Ports], TransactionContext] = run_flow,
    ) -> None:
        self.ports = ports
        self.config = ports.config
        self.display = display if display is not None else NullDisplay()
        self.clock = clock
        self.run = run
        self.operators = operators or Operators(
            ports.journal,
            self.config.operators,
            clock=clock,
            idle_timeout=self.config.timeouts.operator_idle,
        )
        self.session: Session | None = None
        self.screen = Screen.LOGIN_ID
        self.entry = ""  # digits typed on the current screen (never logged)
        self.operator_id = ""
        self.action = ""
        self.merchant: Merchant = self.config.merchant()
        self.rrn: str | None = None
        self.amount = 0
        self.deadline: float | None = None  # screen time-out (amount, card, message)
        self.last: TransactionContext | None = None
        self.page = 0
        self.ecr_running = False
        if ports.pinpad is not None and getattr(ports.pinpad, "display", "") is None:
            ports.pinpad.display = PinScreen(self)  # masked PIN echo on the same screen

    # ----------------------------------------------------------------- plumbing

    @property
    def machine(self) -> Any:
        return self.ports.machine

    def start(self) -> None:
        """Attach the card readers (insert / tap / removal events) and draw the
        log-in screen; call once the machine is at LOGGED_OUT."""
        for reader in (self.ports.contact_reader, self.ports.contactless_reader):
            if reader is not None and hasattr(reader, "attach"):
                reader.attach(self.ports.queue)
        self._to_login()

    def busy(self) -> str | None:
        """Why the terminal is taken by the attended operator, or None."""
        if self.screen in BUSY_SCREENS or self.machine.state in (State.REPORT, State.SETTLEMENT):
            return "a transaction is in progress at the terminal's keypad"
        return None

    def _show(self, *lines: str | TextLine) -> None:
        self.display.show(list(lines))

    def _fire(self, trigger: Trigger) -> None:
        self.ports.fire(trigger)

    # ----------------------------------------------------------------- ECR sharing

    def ecr_started(self) -> None:
        """An ECR request is about to run on the shared terminal. A read-only query
        (the ECR refuses transactions while we are busy) leaves our screen alone."""
        if self.busy() is not None:
            return
        self.ecr_running = True
        self._show(TextLine("ECR TRANSACTION", Align.CENTER), "", "TERMINAL BUSY")

    def ecr_finished(self) -> None:
        """Keys pressed (and cards moved) while the ECR transaction ran are refused:
        they were meant for a screen the operator could not see."""
        if not self.ecr_running:
            return
        self.ecr_running = False
        refused = [e for e in self.ports.queue.drain() if isinstance(e, KeyPressed)]
        if refused:
            log.info("attended: %d key(s) refused while an ECR transaction ran", len(refused))
        self._redraw()

    # ----------------------------------------------------------------- events

    def handle(self, event: Event) -> None:
        if isinstance(event, KeyPressed):
            if self.session is not None:
                self.session.touch(self.clock())
            self._key(event.key)
        elif self.screen is Screen.CARD:
            self._card_event(event)
        elif self.screen is Screen.REMOVE_CARD and isinstance(event, CardRemoved):
            self._card_removed(Trigger.CARD_REMOVED)

    def tick(self) -> None:
        """Time-outs: idle log-out, amount entry, card wait, card removal, messages."""
        now = self.clock()
        if self.screen is Screen.REMOVE_CARD and not _card_present(self.ports.contact_reader):
            self._card_removed(Trigger.CARD_REMOVED)
            return
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            self._timed_out()
            return
        session = self.session
        if (
            session is not None
            and self.screen is Screen.MENU
            and session.expired(now)
            and self.machine.state is State.IDLE
        ):
            self.operators.journal.audit(session.operator, "auto logout", {})
            self._fire(Trigger.IDLE_TIMEOUT)
            self.session = None
            self._to_login("IDLE LOG-OUT")

    def _timed_out(self) -> None:
        if self.screen in (Screen.MERCHANT, Screen.RRN, Screen.AMOUNT, Screen.CARD):
            self._cancel("TIMED OUT")
        elif self.screen is Screen.REMOVE_CARD:
            self._card_removed(Trigger.REMOVAL_TIMEOUT)
        elif self.screen is Screen.MESSAGE:
            self._to_menu()

    def _redraw(self) -> None:
        if self.screen in (Screen.LOGIN_ID, Screen.LOGIN_PASSWORD):
            self._draw_login()
        elif self.screen is Screen.MENU:
            self._draw_menu()

    # ----------------------------------------------------------------- keys

    def _key(self, key: Key) -> None:
        handler = {
            Screen.LOGIN_ID: self._key_login,
            Screen.LOGIN_PASSWORD: self._key_login,
            Screen.MENU: self._key_menu,
            Screen.MERCHANT: self._key_merchant,
            Screen.RRN: self._key_rrn,
            Screen.AMOUNT: self._key_amount,
            Screen.CARD: self._key_card,
            Screen.MESSAGE: self._key_message,
        }.get(self.screen)
        if handler is not None:
            handler(key)

    def _edit(self, key: Key, limit: int) -> bool:
        """Digits / 00 / BACKSPACE / CLEAR on ``self.entry``; True when the key was used."""
        if key.is_digit or key is Key.DOUBLE_ZERO:
            self.entry = (self.entry + key.value)[:limit]
        elif key is Key.BACKSPACE:
            self.entry = self.entry[:-1]
        elif key is Key.CLEAR:
            self.entry = ""
        else:
            return False
        return True

    # log-in ------------------------------------------------------------------

    def _to_login(self, note: str = "") -> None:
        self.screen = Screen.LOGIN_ID
        self.entry = ""
        self.operator_id = ""
        self.deadline = None
        self._draw_login(note)

    def _draw_login(self, note: str = "") -> None:
        if self.screen is Screen.LOGIN_ID:
            self._show(TextLine("OPERATOR LOG-IN", Align.CENTER), f"ID: {self.entry}", "", note)
        else:
            masked = "*" * len(self.entry)
            self._show(
                TextLine("OPERATOR LOG-IN", Align.CENTER),
                f"ID: {self.operator_id}",
                f"PASSWORD: {masked}",
                note,
            )

    def _key_login(self, key: Key) -> None:
        if self._edit(key, MAX_ENTRY):
            self._draw_login()
            return
        if key is Key.CANCEL:
            self._to_login()
        elif key is Key.ENTER and self.entry:
            if self.screen is Screen.LOGIN_ID:
                self.operator_id, self.entry = self.entry, ""
                self.screen = Screen.LOGIN_PASSWORD
                self._draw_login()
            else:
                self._login()

    def _login(self) -> None:
        password, self.entry = self.entry, ""
        self._show(TextLine("OPERATOR LOG-IN", Align.CENTER), "", "CHECKING...")
        result = self.operators.login(self.operator_id, password)
        del password
        if not isinstance(result, Session):
            self._fire(Trigger.LOGIN_FAILED)
            note = "LOCKED OUT" if result is LoginFailure.LOCKED else "LOGIN FAILED"
            self._to_login(note)
            return
        self.session = result
        self._fire(Trigger.LOGIN_OK)
        self._to_menu()

    # menu --------------------------------------------------------------------

    def _to_menu(self) -> None:
        self.screen = Screen.MENU
        self.entry = ""
        self.deadline = None
        if self.session is not None:
            self.session.touch(self.clock())  # a transaction or a message is activity
        if self.machine.state is not State.IDLE and self.session is not None:
            log.warning("attended: menu shown in state %s", self.machine.state.value)
        self._draw_menu()

    def _draw_menu(self) -> None:
        per_page = max(1, self.display.rows - 1)
        pages = (len(MENU) + per_page - 1) // per_page
        self.page %= pages
        items = MENU[self.page * per_page : (self.page + 1) * per_page]
        operator = self.session.operator if self.session else ""
        self._show(
            f"{operator[:9]} {self.page + 1}/{pages}",
            *[f"{item.key} {item.label}" for item in items],
        )

    def _key_menu(self, key: Key) -> None:
        if key in (Key.DOWN, Key.ENTER, Key.F4):
            self.page += 1
            self._draw_menu()
            return
        if key in (Key.UP, Key.F1):
            self.page -= 1
            self._draw_menu()
            return
        item = next((i for i in MENU if i.key == key.value), None)
        if item is None or self.session is None:
            return
        if item.action == "logout":
            self.operators.journal.audit(self.session.operator, "logout", {})
            self._fire(Trigger.LOGOUT)
            self.session = None
            self._to_login("LOGGED OUT")
            return
        try:
            self.operators.require(self.session, item.action)
        except PermissionDenied:
            needed = PERMISSIONS[item.action].name
            self._message("NOT ALLOWED", item.label, f"NEEDS {needed}")
            return
        self.action = item.action
        self.rrn = None
        self.amount = 0
        self.merchant = self.config.merchant()
        if item.action == "x_report":
            self._x_report()
            return
        if item.action != "settle":
            self._fire(Trigger.START_TRANSACTION)
        if len(self.config.merchants) > 1:
            self._to_merchant()
        else:
            self._after_merchant()

    # merchant ----------------------------------------------------------------

    def _to_merchant(self) -> None:
        self.screen = Screen.MERCHANT
        self._arm(self.config.timeouts.amount_entry)
        names = [f"{i + 1} {m.name}" for i, m in enumerate(self.config.merchants)]
        self._show(f"MERCHANT {_title(self.action)}", *names[: self.display.rows - 1])

    def _key_merchant(self, key: Key) -> None:
        if key is Key.CANCEL:
            self._cancel()
        elif key is Key.ENTER:
            self._after_merchant()  # the default: the first profile
        elif key.is_digit and 1 <= int(key.value) <= len(self.config.merchants):
            self.merchant = self.config.merchants[int(key.value) - 1]
            self._after_merchant()

    def _after_merchant(self) -> None:
        if self.action == "settle":
            self._settle()
        elif self.action in ORIGINAL_TYPES:
            self._to_rrn()
        elif self.action in AMOUNT_TYPES:
            self._to_amount()
        else:  # balance: straight to the card
            self._fire(Trigger.AMOUNT_ENTERED)
            self._to_card()

    # RRN of the original (void / completion) ---------------------------------

    def _to_rrn(self) -> None:
        self._entry_screen(Screen.RRN)

    def _draw_rrn(self) -> None:
        self._show(_title(self.action), "ORIGINAL RRN:", self.entry, "CANCEL=ABORT")

    def _key_rrn(self, key: Key) -> None:
        self._arm(self.config.timeouts.amount_entry)
        if self._edit(key, 12):
            self._draw_rrn()
        elif key is Key.CANCEL:
            self._cancel()
        elif key is Key.ENTER and len(self.entry) == 12:
            self.rrn, self.entry = self.entry, ""
            if self.action == "completion":
                self._to_amount()
            else:
                self._start()

    # amount ------------------------------------------------------------------

    def _to_amount(self) -> None:
        self._entry_screen(Screen.AMOUNT)

    def _entry_screen(self, screen: Screen) -> None:
        """An entry screen starts empty, with the entry time-out armed."""
        self.screen = screen
        self.entry = ""
        self._arm(self.config.timeouts.amount_entry)
        (self._draw_rrn if screen is Screen.RRN else self._draw_amount)()

    def _amount_value(self) -> int:
        return int(self.entry) if self.entry else 0

    def _draw_amount(self) -> None:
        exponent = exponent_of(self.config, self.merchant)
        text = amount_text(self._amount_value(), self.merchant.currency_code, exponent)
        hint = "ENTER=PRE-AUTH AMT" if self.action == "completion" else "CANCEL=ABORT"
        self._show(_title(self.action), "AMOUNT:", TextLine(text, Align.RIGHT), hint)

    def _key_amount(self, key: Key) -> None:
        """Digits shift in from the right: 1, 2, 5, 0 → 12.50 (exponent 2)."""
        self._arm(self.config.timeouts.amount_entry)
        if self._edit(key, MAX_AMOUNT_DIGITS):
            self.entry = self.entry.lstrip("0")
            self._draw_amount()
        elif key is Key.CANCEL:
            self._cancel()
        elif key is Key.ENTER:
            self.amount = self._amount_value()
            if self.action == "completion":
                self._start()  # 0 = the pre-authorised amount
            elif self.amount > 0:
                self._fire(Trigger.AMOUNT_ENTERED)
                self._to_card()

    # card wait ---------------------------------------------------------------

    def _to_card(self) -> None:
        self.screen = Screen.CARD
        self._arm(self.config.timeouts.card_insert)
        exponent = exponent_of(self.config, self.merchant)
        amount = amount_text(self.amount, self.merchant.currency_code, exponent)
        how = [
            name
            for name, fitted in (
                ("INSERT", self.ports.contact_reader),
                ("TAP", self.ports.contactless_reader),
                ("SWIPE", self.ports.magstripe),
            )
            if fitted is not None
        ]
        self._show(
            _title(self.action),
            TextLine(amount, Align.RIGHT) if self.action != "balance" else "",
            "/".join(how) or "NO READER",
            "CARD  CANCEL=ABORT",
        )
        if _card_present(self.ports.contact_reader):
            self._start("chip")  # card first: already in the reader

    def _key_card(self, key: Key) -> None:
        if key is Key.CANCEL:
            self._cancel()

    def _card_event(self, event: Event) -> None:
        if isinstance(event, CardInserted):
            self._start("chip")
        elif isinstance(event, ContactlessCardPresented):
            if event.cards > 1:  # EMV Book A 8.1: present one card only
                self._show(_title(self.action), "ONE CARD ONLY", "PLEASE")
                return
            self._start("contactless")
        elif isinstance(event, MagstripeSwiped):
            self.ports.queue.put(event)  # read_swipe takes it from the queue
            self._start("swipe")
        elif isinstance(event, InputRejected) and event.source == getattr(
            self.ports.magstripe, "source", None
        ):
            self._show(_title(self.action), "BAD SWIPE", "TRY AGAIN", "CANCEL=ABORT")

    # the transaction ---------------------------------------------------------

    def _start(self, entry: str | None = None) -> None:
        """Run the transaction through the same flow code as ``posterm pay``."""
        assert self.session is not None
        self.deadline = None
        self.screen = Screen.PROCESSING
        self.processing()
        request = TxnRequest(
            type=self.action,
            amount=self.amount if self.action in AMOUNT_TYPES and self.amount else None,
            entry=entry if self.action in CARD_TYPES else None,
            rrn=self.rrn,
            merchant=self.merchant.name,
            operator=self.session.operator,
        )
        ports = AttendedPorts(
            **{f.name: getattr(self.ports, f.name) for f in dataclasses.fields(Ports)}
        )
        ctx = self.run(request, ports)
        self.last = ctx
        self._result(ctx)

    def processing(self) -> None:
        self._show(_title(self.action), "", TextLine("PROCESSING", Align.CENTER), "PLEASE WAIT")

    def _result(self, ctx: TransactionContext) -> None:
        outcome = ctx.outcome
        decision = (outcome.decision if outcome else "terminated").upper()
        exponent = exponent_of(self.config, self.merchant)
        lines: list[str | TextLine] = [TextLine(decision, Align.CENTER, bold=True)]
        if ctx.amount:
            lines.append(
                TextLine(
                    amount_text(ctx.amount, self.merchant.currency_code, exponent), Align.RIGHT
                )
            )
        if ctx.balance is not None:
            lines.append(f"BAL {amount_text(ctx.balance, self.merchant.currency_code, exponent)}")
        if decision == "APPROVED" and ctx.txn is not None and ctx.txn.auth_code:
            lines.append(f"AUTH {ctx.txn.auth_code}")
        elif outcome is not None and outcome.reason:
            lines.append(outcome.reason.upper())
        if self.machine.state is State.REMOVE_CARD:
            self.screen = Screen.REMOVE_CARD
            self._arm(self.config.timeouts.card_removal)
            self._show(*lines[: self.display.rows - 1], TextLine("REMOVE CARD", Align.CENTER))
            return
        self._message(*lines)

    def _card_removed(self, trigger: Trigger) -> None:
        self._fire(trigger)
        self.screen = Screen.MESSAGE
        self._arm(RESULT_SECONDS)
        decision = self.last.outcome.decision.upper() if self.last and self.last.outcome else ""
        self._show(TextLine(decision, Align.CENTER, bold=True), "", "THANK YOU")

    def _cancel(self, note: str = "CANCELLED") -> None:
        """CANCEL before anything was sent: back to IDLE, nothing journaled or sent."""
        self._fire(Trigger.CANCEL)
        self._message(TextLine(note, Align.CENTER), "", "NOTHING SENT")

    # messages, reports, settlement ---------------------------------------------

    def _message(self, *lines: str | TextLine) -> None:
        self.screen = Screen.MESSAGE
        self._arm(RESULT_SECONDS)
        self._show(*lines)

    def _key_message(self, key: Key) -> None:
        self._to_menu()  # any key dismisses (and is not acted on)

    def _arm(self, seconds: float) -> None:
        self.deadline = self.clock() + seconds

    def _x_report(self) -> None:
        from terminal.settlement import x_report

        self._fire(Trigger.START_REPORT)
        try:
            reports = x_report(self.config, self.ports.journal)
            lines = ["X REPORT"]
            for report in reports:
                exponent = exponent_of(self.config, self.config.merchant(report.merchant))
                currency = self.config.merchant(report.merchant).currency_code
                totals = report.totals
                lines += [
                    f"{report.merchant} batch {report.batch}",
                    f"DR {totals.debit_count} "
                    + amount_text(totals.debit_amount, currency, exponent),
                    f"CR {totals.credit_count} "
                    + amount_text(totals.credit_amount, currency, exponent),
                ]
            self._print(lines)
        finally:
            self._fire(Trigger.REPORT_DONE)
        self._message(*lines[: self.display.rows])

    def _settle(self) -> None:
        from terminal.settlement import Settlement

        assert self.session is not None
        self._fire(Trigger.START_SETTLEMENT)
        self.screen = Screen.PROCESSING
        self._show("SETTLEMENT", self.merchant.name, "", "PLEASE WAIT")
        ports = self.ports
        try:
            result = Settlement(
                ports.journal,
                ports.client,
                ports.keys,
                ports.saf,
                nii=self.config.host.nii,
                now=ports.now,
            ).close(self.merchant, operator=self.session.operator)
        finally:
            self._fire(Trigger.SETTLEMENT_DONE)
        exponent = exponent_of(self.config, self.merchant)
        currency = self.merchant.currency_code
        lines = [
            f"BATCH {result.batch} {'CLOSED' if result.closed else 'NOT CLOSED'}",
            f"DR {result.debit_count} " + amount_text(result.debit_amount, currency, exponent),
            f"CR {result.credit_count} " + amount_text(result.credit_amount, currency, exponent),
            (result.reason or "").upper(),
        ]
        self._print(["SETTLEMENT", self.merchant.name, *lines])
        self._message(*lines)

    def _print(self, lines: list[str]) -> None:
        printer = self.ports.printer
        if printer is None:
            return
        try:
            printer.print([TextLine(line) for line in lines])
        except Exception as error:  # noqa: BLE001 - a report on screen is enough
            log.warning("printer: %s", type(error).__name__)


def _title(action: str) -> str:
    return next((item.label for item in MENU if item.action == action), action.upper())
