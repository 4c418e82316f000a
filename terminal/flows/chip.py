"""Chip (contact and contactless) through the EMV kernel, with the terminal's callbacks.

The kernel decides; the flow supplies PIN entry (hal secure PIN pad, online PIN block
under the DUKPT PIN key of the very session that MACs the request), the online leg
(0100/0200 with DE 55, ARPC and scripts handed back) and the journal writes that
follow each decision: TC after host approval approves, AAC after host approval queues
a reversal (host-spec rule 1), an offline TC queues a 0220 advice (rule 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emv.callbacks import (
    DefaultCallbacks,
    DisplayMessage,
    OnlineRequest,
    OnlineResponse,
    PinEntry,
    PinKind,
    PinRequest,
    PinStatus,
)
from emv.config import KernelConfig
from emv.context import TransactionContext as EmvContext
from emv.context import TransactionInput, TransactionType
from emv.errors import EmvError
from emv.initiate import RESELECT, initiate_processing
from emv.kernel import run_context
from emv.outcome import Decision, KernelResult
from emv.read_data import read_application_data
from emv.result import encode_de55
from emv.selection import select_application
from emv.tlv import TlvError, decode, encode
from emv.transport import CardTransport, CardTransportError
from hal.pinentry import kernel_pin_entry
from terminal.emvconfig import kernel_config
from terminal.flows import online
from terminal.flows.context import CardData, Outcome, TransactionContext
from terminal.flows.ports import Ports
from terminal.hostmsg.client import NoValidResponse
from terminal.hostmsg.keysource import KeySession
from terminal.hostmsg.spec import entry_mode, response_text
from terminal.machine import Trigger
from terminal.receipts import CvmOutcome

if TYPE_CHECKING:
    from emv.contactless.config import ContactlessConfig

log = logging.getLogger(__name__)

# EMV Book 3 Annex A 9C by flow type (9C = first two digits of DE 3).
EMV_TYPES = {
    "sale": TransactionType.PURCHASE,
    "preauth": TransactionType.PURCHASE,
    "refund": TransactionType.REFUND,
    "balance": TransactionType.BALANCE_INQUIRY,
    "topup": 0x28,
}


def card_from_emv(emv: EmvContext) -> CardData | None:
    """DE 2/14/23/35 from the card's 5A, 5F24, 5F34 and 57."""
    pan = emv.pan
    track2 = emv.card.get(0x57, b"").hex().upper().rstrip("F").replace("D", "=")
    if not pan and "=" in track2:
        pan = track2.split("=", 1)[0]
    if not pan:
        return None
    expiry_raw = emv.card.get(0x5F24, b"").hex()
    psn = emv.card.get(0x5F34)
    service = track2.split("=", 1)[1][4:7] if "=" in track2 else None
    return CardData(
        pan=pan,
        expiry=expiry_raw[:4] if len(expiry_raw) >= 4 else None,
        psn=f"{psn[0]:03x}"[-3:].zfill(3) if psn else None,
        track2=track2 or None,
        service_code=service,
    )


def cvm_outcome(cvm_results: bytes) -> CvmOutcome:
    """Receipt CVM line from 9F34 (EMV Book 3 Annex C3 CVM codes, byte 3 result)."""
    if len(cvm_results) != 3:
        return CvmOutcome.NONE
    code, result = cvm_results[0] & 0x3F, cvm_results[2]
    if code in (0x01, 0x04) and result == 0x02:
        return CvmOutcome.PIN_VERIFIED
    if code == 0x02:
        return CvmOutcome.PIN_VERIFIED  # online PIN: verified by the issuer's approval
    if code in (0x03, 0x05):
        return CvmOutcome.PIN_AND_SIGNATURE
    if code == 0x1E:
        return CvmOutcome.SIGNATURE
    if code == 0x1F:
        return CvmOutcome.NO_CVM
    return CvmOutcome.NONE


def transaction_input(ctx: TransactionContext, ports: Ports, counter: int) -> TransactionInput:
    return TransactionInput(
        amount=ctx.amount,
        date=ctx.when.date(),
        time=ctx.when.time().replace(microsecond=0),
        unpredictable_number=ports.random(4),
        random_selection=1 + ports.random(1)[0] % 99,
        transaction_type=EMV_TYPES.get(ctx.request.type, TransactionType.PURCHASE),
        sequence_counter=counter,
        # Balance and top-up go online like a sale (EMV Book 3, 10.6: merchant forced
        # online, TVR byte 4 b4, which every TAC-Online of terminal/data/aids.toml holds).
        force_online=ctx.request.type in ("balance", "topup"),
        pos_entry_mode=0x07 if ctx.request.method == "contactless" else 0x05,
        # Refund: AAC at the first GENERATE AC, sent online (scheme rules; Book 4 leaves
        # refunds to the payment systems).
        request_aac=ctx.request.type == "refund",
    )


@dataclass
class FlowCallbacks(DefaultCallbacks):
    """The kernel's view of the terminal for one transaction."""

    ctx: TransactionContext
    ports: Ports
    emv: EmvContext
    session: KeySession | None = None
    went_online: bool = False
    host_approved: bool = False
    no_response: NoValidResponse | None = None
    pin_cancelled: bool = False
    displayed: list[DisplayMessage] = field(default_factory=list)

    def random_bytes(self, length: int) -> bytes:  # emv.cvm RandomSource (enciphered PIN)
        return self.ports.random(length)

    def display(self, message: DisplayMessage) -> None:
        self.displayed.append(message)

    def enter_pin(self, request: PinRequest) -> PinEntry:
        pinpad = self.ports.pinpad
        if pinpad is None:
            return PinEntry(PinStatus.PINPAD_FAULT)
        if self.ports.cancelled.is_set():
            self.pin_cancelled = True
            return PinEntry(PinStatus.CANCELLED)
        self.ports.fire(Trigger.PIN_REQUESTED)
        try:
            if request.kind is PinKind.ONLINE:
                # One DUKPT key for DE 52 and the MAC: DE 48 KS names both (host-spec).
                self.session = self.ports.keys.next_session()
                entry = kernel_pin_entry(
                    pinpad,
                    request,
                    pan=self.emv.pan,
                    session=self.session,
                    first_key_timeout=self.ports.pin_timeout,
                    inter_key_timeout=self.ports.pin_timeout,
                )
            else:
                entry = kernel_pin_entry(
                    pinpad,
                    request,
                    first_key_timeout=self.ports.pin_timeout,
                    inter_key_timeout=self.ports.pin_timeout,
                )
        finally:
            self.ports.fire(Trigger.PIN_DONE)
        if entry.status is PinStatus.CANCELLED:
            self.pin_cancelled = True
        return entry

    def go_online(self, request: OnlineRequest) -> OnlineResponse | None:
        self.went_online = True
        ctx, ports = self.ctx, self.ports
        ctx.card = card_from_emv(self.emv)
        pin = request.online_pin
        pin_block = pin.online_block if pin is not None and pin.online_block else None
        message = online.build_request(
            ctx, ports, icc=encode_de55(dict(request.de55)), pin_block=pin_block
        )
        session = self.session if pin_block else None
        outcome = online.send(ctx, ports, message, session=session, final=False)
        if isinstance(outcome, NoValidResponse):
            if outcome.sent:
                # The request may have been approved: it is being reversed, so the card
                # must not approve offline now — ask it for an AAC (Z3 as a host decline).
                self.no_response = outcome
                return OnlineResponse(approved=False, response_code=b"Z3")
            return None  # never left: unable to go online, default action analysis
        self.host_approved = outcome.approved
        issuer_data, scripts = _issuer_data(outcome.message.get(55))
        return OnlineResponse(
            approved=outcome.approved,
            response_code=(outcome.code or "").encode("ascii")[:2],
            issuer_authentication_data=issuer_data,
            scripts=scripts,
            authorisation_code=(outcome.message.text(38) or "").encode("ascii"),
        )


def _issuer_data(de55: str | bytes | None) -> tuple[bytes, tuple[bytes, ...]]:
    """91 and the 71/72 script templates (whole, tag included) from the response DE 55."""
    if not isinstance(de55, bytes) or not de55:
        return b"", ()
    try:
        items = decode(de55, strict=False)
    except TlvError:
        return b"", ()
    issuer = next((item.value for item in items if item.tag == 0x91), b"")
    scripts = tuple(encode([item]) for item in items if item.tag in (0x71, 0x72))
    return issuer, scripts


def open_session(ports: Ports, contactless: bool) -> CardTransport | None:
    reader = ports.contactless_reader if contactless else ports.contact_reader
    if reader is None:
        return None
    try:
        if contactless:
            session: CardTransport = reader.activate()
            return session
        if not reader.card_present() and not reader.wait_for_card(ports.card_timeout):
            return None
        session = reader.power_on()
        return session
    except Exception as error:  # noqa: BLE001 - any driver failure is "no card"
        log.info("card reader: %s", type(error).__name__)
        return None


def close_session(ports: Ports, contactless: bool) -> None:
    reader = ports.contactless_reader if contactless else ports.contact_reader
    try:
        if contactless:
            reader.deactivate()
        else:
            reader.power_off()
    except Exception:  # noqa: BLE001, S110 - powering off a gone card is not an error
        pass


def _config(ctx: TransactionContext, ports: Ports) -> KernelConfig:
    return kernel_config(ports.config, ctx.merchant)


def contactless_config(ctx: TransactionContext, ports: Ports) -> ContactlessConfig:
    """emv.contactless configuration: one Book B combination per AID-table row that
    names a contactless kernel (``cl_kernel``), with its reader limits."""
    from emv.contactless.config import Combination, ContactlessConfig

    combinations = tuple(
        Combination(
            aid=entry.aid,
            kernel_id=entry.cl_kernel,
            transaction_limit=entry.cl_transaction_limit,
            floor_limit=entry.cl_floor_limit,
            cvm_required_limit=entry.cl_cvm_limit,
            partial_selection=entry.partial_selection,
        )
        for entry in ports.config.aids
        if entry.cl_kernel in (2, 3)
    )
    return ContactlessConfig(kernel=_config(ctx, ports), combinations=combinations)


def _run_kernel(
    ctx: TransactionContext, ports: Ports, transport: CardTransport, contactless: bool
) -> tuple[KernelResult, FlowCallbacks, EmvContext]:
    counter = ports.journal.counter("stan") or 0
    txn = transaction_input(ctx, ports, counter + 1)
    if contactless:
        from emv.contactless.entry_point import new_context, run_contactless_context

        config = contactless_config(ctx, ports)
        emv = new_context(config, txn)
        callbacks = FlowCallbacks(ctx, ports, emv)
        result: KernelResult = run_contactless_context(emv, transport, callbacks, config)
        return result, callbacks, emv
    emv = EmvContext.new(_config(ctx, ports), txn)
    callbacks = FlowCallbacks(ctx, ports, emv)
    return run_context(emv, transport, callbacks), callbacks, emv


def emv_payment(ctx: TransactionContext, ports: Ports) -> Outcome:
    """Sale, pre-authorisation, balance and top-up with the kernel deciding (EMV Book 3,
    10; contactless: EMV Book B Entry Point and kernels C-2 / C-3); a refund asks the
    card for an AAC and goes online with it (:func:`_refund`)."""
    contactless = ctx.request.method == "contactless"
    transport = open_session(ports, contactless)
    if transport is None:
        return Outcome.terminated("no card presented")
    ports.fire(Trigger.CARD_TAPPED if contactless else Trigger.CARD_INSERTED)
    ctx.entry_mode = entry_mode("contactless" if contactless else "chip", ports.pinpad is not None)
    try:
        result, callbacks, emv = _run_kernel(ctx, ports, transport, contactless)
    finally:
        close_session(ports, contactless)
    ctx.kernel = result
    ctx.cvm = cvm_outcome(result.cvm_results)
    if ctx.card is None:
        ctx.card = card_from_emv(emv)
    if ctx.request.type == "refund" and result.decision is not Decision.TERMINATED:
        return _refund(ctx, ports, callbacks, result)
    ports.fire(Trigger.CARD_DECIDED)
    return _record(ctx, ports, callbacks, result)


def _refund(
    ctx: TransactionContext, ports: Ports, callbacks: FlowCallbacks, result: KernelResult
) -> Outcome:
    """Refund by chip: the card's AAC (``TransactionInput.request_aac``) is the card data
    captured; the 0200 200000 carries that AAC's DE 55 and the host alone decides."""
    if result.decision is not Decision.DECLINED_OFFLINE or result.cryptogram_type != "AAC":
        ports.fire(Trigger.CARD_DECIDED)
        return _terminate(ctx, ports, "card error (no AAC to the refund's AAC request)")
    if ctx.card is None:
        ports.fire(Trigger.CARD_DECIDED)
        return _terminate(ctx, ports, "card gave no PAN")
    # The card's list may have asked for online PIN (Book 3, 10.5): the block goes with
    # the refund under the DUKPT session that MACs it, as on a sale.
    pin = callbacks.emv.online_pin
    pin_block = pin.online_block if pin is not None and pin.online_block else None
    message = online.build_request(ctx, ports, icc=result.de55, pin_block=pin_block)
    session = callbacks.session if pin_block else None
    sent = online.send(ctx, ports, message, session=session, emv=dict(result.de55_tags))
    return online.host_decision(ctx, ports, sent)


def _record(
    ctx: TransactionContext, ports: Ports, callbacks: FlowCallbacks, result: KernelResult
) -> Outcome:
    journal = ports.journal
    emv_data = dict(result.de55_tags)
    if callbacks.went_online and ctx.txn is not None:
        txn = ctx.txn
        if callbacks.no_response is not None:
            return Outcome.terminated(
                f"no valid response from host ({callbacks.no_response.reason}); reversal stored"
            )
        if ctx.response is not None:
            if not callbacks.host_approved:
                return Outcome.declined(response_text(ctx.response_code))
            if result.approved:
                ctx.txn = journal.finish(txn.id, approved=True, emv=emv_data)
                return Outcome.approved()
            ctx.txn = journal.finish(
                txn.id, approved=False, reason="card declined after host approval", emv=emv_data
            )
            ctx.reversal_pending = True
            return Outcome.declined("card declined after host approval; reversal stored")
        # Never left (connect failed): the card decided offline (Y3 / Z3).
        return _offline(ctx, ports, result, unable_online=True)
    if result.decision is Decision.TERMINATED:
        if callbacks.pin_cancelled:
            return Outcome.terminated("cancelled")
        reason = result.reason.value if result.reason else "terminated"
        if result.fallback_allowed:
            ctx.notes["fallback_allowed"] = True
        return _terminate(ctx, ports, reason)
    return _offline(ctx, ports, result, unable_online=False)


def _offline(
    ctx: TransactionContext, ports: Ports, result: KernelResult, *, unable_online: bool
) -> Outcome:
    """Offline decision: TC → approved with a 0220 advice (rule 2); AAC → declined."""
    journal = ports.journal
    approved = result.approved
    code = ("Y3" if approved else "Z3") if unable_online else ("Y1" if approved else "Z1")
    ctx.response_code = code
    emv_data = dict(result.de55_tags)
    if ctx.txn is None:
        online.create(ctx, ports, None, arm=False, emv=emv_data)
    assert ctx.txn is not None
    advice = None
    if approved:
        message = online.build_request(ctx, ports, icc=result.de55)
        advice = {**dict(message.fields), 11: ctx.txn.stan, 39: code}
        advice.pop(52, None)
    ctx.txn = journal.complete_offline(
        ctx.txn.id,
        approved=approved,
        response_code=code,
        advice=advice,
        advice_kind="offline",
        reason=None if approved else "declined offline by the card",
        emv=emv_data,
    )
    if approved:
        ports.saf.drain(force=True)  # send the advice now if the host is there
        return Outcome.approved()
    return Outcome.declined(response_text(code))


def _terminate(ctx: TransactionContext, ports: Ports, reason: str) -> Outcome:
    if ctx.txn is None:
        online.create(ctx, ports, None, arm=False)
    assert ctx.txn is not None
    ctx.txn = ports.journal.terminate(ctx.txn.id, reason)
    return Outcome.terminated(reason)


def read_card(ctx: TransactionContext, ports: Ports) -> Outcome | None:
    """Card data capture for a contactless refund, balance and top-up: application
    selection, GPO and READ RECORD only (EMV Book 3, 10.1-10.2) - the authorisation is
    the host's alone and no DE 55 goes (docs/flows.md)."""
    contactless = ctx.request.method == "contactless"
    transport = open_session(ports, contactless)
    if transport is None:
        return Outcome.terminated("no card presented")
    ports.fire(Trigger.CARD_TAPPED if contactless else Trigger.CARD_INSERTED)
    emv = EmvContext.new(_config(ctx, ports), transaction_input(ctx, ports, 1))
    callbacks = DefaultCallbacks()
    try:
        stop = select_application(emv, transport, callbacks)
        if stop is None:
            started = initiate_processing(emv, transport, callbacks)
            if started == RESELECT or started is not None:
                return Outcome.terminated("card could not start the application")
            stop = read_application_data(emv, transport, callbacks)
    except (CardTransportError, EmvError) as error:
        return Outcome.terminated(f"card error ({type(error).__name__})")
    finally:
        close_session(ports, contactless)
    if stop is not None:
        return Outcome.terminated(stop.reason.value if stop.reason else "card error")
    ctx.card = card_from_emv(emv)
    if ctx.card is None:
        return Outcome.terminated("card gave no PAN")
    ctx.entry_mode = entry_mode("contactless" if contactless else "chip", ports.pinpad is not None)
    ctx.notes["aid"] = emv.card.get(0x84, b"").hex().upper()
    return None
