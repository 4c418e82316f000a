"""The kernel's one entry point: run a contact transaction from selection to completion.

Steps run in Book 3, 10 order over one :class:`TransactionContext`. Whatever the
card answers, the result is a documented :class:`~emv.outcome.Decision`;
malformed card data and a vanished card become terminations, never exceptions.
"""

from __future__ import annotations

from emv.action import action_analysis
from emv.bits import TVR
from emv.callbacks import KernelCallbacks
from emv.config import KernelConfig
from emv.context import TransactionContext, TransactionInput
from emv.errors import EmvError
from emv.hooks import resolve
from emv.initiate import RESELECT, initiate_processing
from emv.outcome import KernelResult, Outcome, TerminationReason
from emv.read_data import read_application_data
from emv.restrictions import processing_restrictions
from emv.result import build_de55, build_result
from emv.risk import terminal_risk_management
from emv.selection import final_selection, remove_selected, select_application
from emv.transport import CardTransport, CardTransportError

# Terminations before the first GENERATE AC after which magstripe fallback may be offered.
FALLBACK_REASONS = frozenset(
    {
        TerminationReason.CARD_ERROR,
        TerminationReason.DATA_FORMAT_ERROR,
        TerminationReason.MISSING_MANDATORY_DATA,
        TerminationReason.NO_COMMON_APPLICATION,
    }
)
MAX_RESELECTIONS = 16


def run_transaction(
    transport: CardTransport,
    config: KernelConfig,
    callbacks: KernelCallbacks,
    txn: TransactionInput,
) -> KernelResult:
    """Run one contact EMV transaction; never raises for anything the card does."""
    ctx = TransactionContext.new(config, txn)
    return run_context(ctx, transport, callbacks)


def run_context(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> KernelResult:
    """As :func:`run_transaction`, over a context the caller prepared (replay, tests)."""
    try:
        outcome = _run(ctx, transport, callbacks)
    except CardTransportError as error:
        outcome = Outcome.terminate(TerminationReason.CARD_REMOVED, type(error).__name__)
    except EmvError as error:
        outcome = Outcome.terminate(TerminationReason.CARD_ERROR, str(error))
    if (
        outcome.reason in FALLBACK_REASONS
        and not ctx.genac1
        and ctx.config.fallback_allowed
        and not outcome.fallback_allowed
    ):
        outcome = Outcome(outcome.decision, outcome.reason, outcome.detail, True)
    ctx.outcome = outcome
    return build_result(ctx, outcome)


def read_card_data(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    """Selection, GET PROCESSING OPTIONS and READ RECORD only (Book 1 12, Book 3 10.1-10.2).

    For card data capture without a cryptogram (refund, balance): ``ctx.card`` holds
    the records afterwards. Never raises for what the card does: a vanished card or
    malformed data come back as terminations, like :func:`run_transaction`.
    """
    try:
        return _start(ctx, transport, callbacks)
    except CardTransportError as error:
        return Outcome.terminate(TerminationReason.CARD_REMOVED, type(error).__name__)
    except EmvError as error:
        return Outcome.terminate(TerminationReason.CARD_ERROR, str(error))


def _start(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    outcome = select_application(ctx, transport, callbacks)
    for _ in range(MAX_RESELECTIONS):
        if outcome is not None:
            return outcome
        started = initiate_processing(ctx, transport, callbacks)
        if started != RESELECT:
            break
        # EMV 4.4 Book 3, 10.1: 6985 - drop this application and select again.
        remove_selected(ctx)
        outcome = final_selection(ctx, transport, callbacks)
    else:
        return Outcome.terminate(TerminationReason.NO_COMMON_APPLICATION, "reselection limit")
    if isinstance(started, Outcome):
        return started
    return read_application_data(ctx, transport, callbacks)


def _run(ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks) -> Outcome:
    outcome = _start(ctx, transport, callbacks)
    if outcome is not None:
        return outcome
    for step in (_oda, processing_restrictions, _cvm, terminal_risk_management):
        result = step(ctx, transport, callbacks)
        if result is not None:
            return result
    return action_analysis(ctx, transport, callbacks, build_de55)


def _hooked(
    module: str, ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | bool | None:
    """Run ``module.perform``; False when the module offers no hook."""
    ctx.step = module.rsplit(".", 1)[-1]
    hook = resolve(module, "perform")
    if hook is None:
        return False
    result = hook(ctx, transport, callbacks)
    return result if isinstance(result, Outcome) else None


def _oda(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    # EMV 4.4 Book 3, 10.3 Offline Data Authentication (emv.oda)
    result = _hooked("emv.oda", ctx, transport, callbacks)
    if result is False:
        ctx.tvr |= TVR.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED
        return None
    return result if isinstance(result, Outcome) else None


def _cvm(
    ctx: TransactionContext, transport: CardTransport, callbacks: KernelCallbacks
) -> Outcome | None:
    # EMV 4.4 Book 3, 10.5 Cardholder Verification (emv.cvm)
    result = _hooked("emv.cvm", ctx, transport, callbacks)
    return result if isinstance(result, Outcome) else None
