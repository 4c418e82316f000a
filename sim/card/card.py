"""The virtual EMV card: an APDU interpreter over a personalised profile.

One instance is one physical card: ATC, PIN try counter and the application
block survive power cycles; the transaction state does not.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from emv.tlv import encode_primitive
from emv.transport import CardTransportError
from sim.card import cryptogram
from sim.card.certs import signed_dynamic_data
from sim.card.dol import dol_length, parse_dol, split_dol_data
from sim.card.faults import Faults
from sim.card.profile import Application, CardProfile, load_profile, with_faults
from sim.errors import SimError

PSE_NAME = b"1PAY.SYS.DDF01"
PPSE_NAME = b"2PAY.SYS.DDF01"
DIRECTORY_SFI = 1

# ISO 7816-4 / EMV 4.4 Book 1, 11 and Book 3, 6: status words the card answers
SW_OK = 0x9000
SW_SELECTED_BLOCKED = 0x6283
SW_VERIFY_FAIL = 0x63C0
SW_ISSUER_AUTH_FAIL = 0x6300
SW_WRONG_LENGTH = 0x6700
SW_PIN_BLOCKED = 0x6983
SW_REF_DATA_INVALID = 0x6984
SW_CONDITIONS = 0x6985
SW_SM_INCORRECT = 0x6988
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_WRONG_P1P2 = 0x6A86
SW_DATA_NOT_FOUND = 0x6A88
SW_INS_UNKNOWN = 0x6D00
SW_CLA_UNKNOWN = 0x6E00

CID_AAC = 0x00
CID_TC = 0x40
CID_ARQC = 0x80
APPROVAL_CODES = {b"00", b"10", b"11", b"Y1", b"Y3"}


class CardPulledError(SimError, CardTransportError):
    """The card left the reader (fault ``pull_after``); a CardTransportError so an
    in-process kernel sees exactly what a real transport raises."""


def _sw(value: int) -> bytes:
    return value.to_bytes(2, "big")


def _tlv(tag: str, value: bytes) -> bytes:
    return encode_primitive(int(tag, 16), value)


@dataclass(slots=True)
class AppState:
    """What an application remembers between transactions."""

    atc: int
    last_online_atc: int
    pin_tries: int
    blocked: bool
    pin: str | None
    data_updates: dict[str, bytes] = field(default_factory=dict)
    log: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class Session:
    """One transaction's state; cleared by power-on and SELECT."""

    app: Application | None = None
    directory: str | None = None  # "pse" or "ppse" while a directory is selected
    select_prefix: bytes = b""
    select_index: int = -1
    gpo_done: bool = False
    pdol_data: bytes = b""
    terminal: dict[str, bytes] = field(default_factory=dict)
    cdol1_data: bytes = b""
    genac_count: int = 0
    first_cid: int | None = None
    arqc: bytes = b""
    challenge: bytes | None = None
    offline_pin_ok: bool = False
    offline_pin_failed: bool = False
    issuer_auth: bool | None = None  # None not done, True ok, False failed
    script_counter: int = 0


class VirtualCard:
    """A profile-driven EMV card.

    Implements sim.vpicc.ApduCard (``atr``, ``power_on``, ``power_off``,
    ``process_apdu``) and emv.transport.CardTransport (``transmit``).

    Parameters
    ----------
    profile : CardProfile or str
        The card image (or a profile name/path to load).
    faults : Faults, optional
        Faults on top of the profile's own ``[faults]``.
    rng : callable, optional
        ``n -> n bytes`` for challenges and ICC dynamic numbers (default os.urandom).
    """

    def __init__(
        self,
        profile: CardProfile | str,
        faults: Faults | None = None,
        rng: Callable[[int], bytes] = os.urandom,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(profile, str):
            profile = load_profile(profile)
        if faults is not None:
            profile = with_faults(profile, faults)
        if not profile.has_chip:
            raise SimError(f"profile {profile.name} is magstripe-only: it has no chip")
        self.profile = profile
        self.faults = profile.faults
        self.atr = profile.atr
        self._rng = rng
        self._sleep = sleep
        self.apdu_count = 0
        self.pulled = False
        self.states = {
            app.aid: AppState(app.atc, app.last_online_atc, app.pin_tries, app.blocked, app.pin)
            for app in profile.applications
        }
        self.session = Session()
        self.last_arqc_data: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"VirtualCard({self.profile.name!r})"

    # -- ApduCard / CardTransport -------------------------------------------------
    def power_on(self) -> None:
        self.session = Session()

    def power_off(self) -> None:
        self.session = Session()

    def transmit(self, apdu: bytes) -> bytes:
        """In-process CardTransport: case 4 is answered in one go (no 61xx/6Cxx)."""
        return self.process_apdu(apdu)

    def process_apdu(self, apdu: bytes) -> bytes:
        if self.pulled:
            raise CardPulledError("card was pulled from the reader")
        name = _command_name(apdu)
        delay = self.faults.delay + self.faults.delays.get(name, 0.0)
        if delay:
            self._sleep(delay)
        if name in self.faults.status_words:
            response = _sw(self.faults.status_words[name])
        else:
            response = self._dispatch(name, apdu)
            if name in self.faults.malformed_tlv and len(response) > 4:
                body = bytearray(response[:-2])
                _break_length(body)
                response = bytes(body) + response[-2:]
        self.apdu_count += 1
        if self.faults.pull_after is not None and self.apdu_count >= self.faults.pull_after:
            self.pulled = True
            raise CardPulledError(f"card pulled after {self.apdu_count} APDUs")
        return response

    # -- dispatch -------------------------------------------------------------------
    def _dispatch(self, name: str, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return _sw(SW_WRONG_LENGTH)
        cla = apdu[0]
        if cla not in (0x00, 0x80, 0x84, 0x04):
            return _sw(SW_CLA_UNKNOWN)
        handler = _HANDLERS.get(name)
        if handler is None:
            return _sw(SW_INS_UNKNOWN)
        header, data, ok = _parse(apdu)
        if not ok:
            return _sw(SW_WRONG_LENGTH)
        return handler(self, header, data)

    # -- SELECT ------------------------------------------------------------------------
    def _select(self, header: bytes, data: bytes) -> bytes:
        # EMV 4.4 Book 1, 11.3: SELECT by DF name, P2 '00' first / '02' next occurrence
        if header[2] != 0x04 or header[3] not in (0x00, 0x02):
            return _sw(SW_WRONG_P1P2)
        self.session = Session(
            select_prefix=self.session.select_prefix, select_index=self.session.select_index
        )
        if data == PSE_NAME and self.profile.pse:
            self.session.directory = "pse"
            fci = _tlv("84", PSE_NAME) + _tlv(
                "A5", _tlv("88", bytes([DIRECTORY_SFI])) + _tlv("5F2D", b"en")
            )
            return _tlv("6F", fci) + _sw(SW_OK)
        if data == PPSE_NAME and self.profile.ppse:
            self.session.directory = "ppse"
            entries = b"".join(
                _tlv("61", self._directory_entry(app)) for app in self.profile.applications
            )
            fci = _tlv("84", PPSE_NAME) + _tlv("A5", _tlv("BF0C", entries))
            return _tlv("6F", fci) + _sw(SW_OK)
        matches = [app for app in self.profile.applications if app.aid.startswith(data) and data]
        if header[3] == 0x02 and data == self.session.select_prefix:
            start = self.session.select_index + 1
        else:
            start = 0
        if start >= len(matches):
            self.session.select_prefix, self.session.select_index = data, -1
            return _sw(SW_NOT_FOUND)
        app = matches[start]
        self.session.select_prefix, self.session.select_index = data, start
        self.session.app = app
        state = self.states[app.aid]
        proprietary = _tlv("50", app.label.encode("ascii"))
        proprietary += _tlv("87", bytes([app.priority_indicator]))
        if app.pdol:
            proprietary += _tlv("9F38", app.pdol)
        proprietary += _tlv("5F2D", b"en")
        if app.preferred_name:
            proprietary += _tlv("9F11", b"\x01") + _tlv("9F12", app.preferred_name.encode("ascii"))
        if app.fci_extra:
            proprietary += _tlv("BF0C", b"".join(_tlv(t, v) for t, v in app.fci_extra.items()))
        fci = _tlv("6F", _tlv("84", app.aid) + _tlv("A5", proprietary))
        return fci + _sw(SW_SELECTED_BLOCKED if state.blocked else SW_OK)

    def _directory_entry(self, app: Application) -> bytes:
        entry = _tlv("4F", app.aid) + _tlv("50", app.label.encode("ascii"))
        if app.preferred_name:
            entry += _tlv("9F12", app.preferred_name.encode("ascii"))
        return entry + _tlv("87", bytes([app.priority_indicator]))

    # -- READ RECORD ----------------------------------------------------------------
    def _read_record(self, header: bytes, data: bytes) -> bytes:
        # EMV 4.4 Book 1, 11.2: P1 record number, P2 = SFI << 3 | 4
        number, p2 = header[2], header[3]
        if p2 & 0x07 != 0x04 or number == 0:
            return _sw(SW_WRONG_P1P2)
        sfi = p2 >> 3
        if self.session.directory == "pse":
            if sfi != DIRECTORY_SFI:
                return _sw(SW_NOT_FOUND)
            apps = self.profile.applications
            if number > len(apps):
                return _sw(SW_RECORD_NOT_FOUND)
            return _tlv("70", _tlv("61", self._directory_entry(apps[number - 1]))) + _sw(SW_OK)
        app = self.session.app
        if app is None:
            return _sw(SW_CONDITIONS)
        if app.log_sfi and sfi == app.log_sfi:
            log = self.states[app.aid].log
            if number > len(log):
                return _sw(SW_RECORD_NOT_FOUND)
            return log[-number] + _sw(SW_OK)
        in_sfi = [r for r in app.records if r.sfi == sfi]
        if not in_sfi:
            return _sw(SW_NOT_FOUND)
        for record in in_sfi:
            if record.number == number:
                return record.body + _sw(SW_OK)
        return _sw(SW_RECORD_NOT_FOUND)

    # -- GET PROCESSING OPTIONS -------------------------------------------------------
    def _gpo(self, header: bytes, data: bytes) -> bytes:
        # EMV 4.4 Book 3, 6.5.8
        session, app = self.session, self.session.app
        if app is None or session.gpo_done or self.states[app.aid].blocked:
            return _sw(SW_CONDITIONS)
        if header[2:4] != b"\x00\x00":
            return _sw(SW_WRONG_P1P2)
        if len(data) < 2 or data[0] != 0x83 or data[1] != len(data) - 2:
            return _sw(SW_WRONG_DATA)
        pdol_data = data[2:]
        if len(pdol_data) != dol_length(app.pdol):
            return _sw(SW_WRONG_LENGTH)
        terminal = split_dol_data(app.pdol, pdol_data) if app.pdol else {}
        if (
            app.risk.gpo_domestic_only
            and terminal.get("9F1A", app.issuer_country) != app.issuer_country
        ):
            return _sw(SW_CONDITIONS)
        if app.kernel == "qvsdc" and "9F66" in terminal and not terminal["9F66"][0] & 0x20:
            return _sw(SW_CONDITIONS)  # the reader does not do qVSDC
        state = self.states[app.aid]
        if state.atc >= 0xFFFF:
            return _sw(SW_CONDITIONS)
        state.atc += 1  # the ATC counts every transaction started
        session.gpo_done = True
        session.pdol_data = pdol_data
        session.terminal = dict(terminal)
        if app.kernel == "qvsdc":
            return self._qvsdc_gpo(app, state, terminal)
        if app.gpo_format == 1:
            return _tlv("80", app.aip + app.afl) + _sw(SW_OK)
        return _tlv("77", _tlv("82", app.aip) + _tlv("94", app.afl)) + _sw(SW_OK)

    def _qvsdc_gpo(self, app: Application, state: AppState, terminal: dict[str, bytes]) -> bytes:
        # Contactless qVSDC style: the online cryptogram comes back in the GPO response
        atc = state.atc.to_bytes(2, "big")
        iad = self._iad(app, CID_ARQC, None)
        ac = cryptogram.application_cryptogram(
            app.cryptogram, app.icc_keys, terminal, app.aip, atc, iad
        )
        self.session.arqc = ac
        self.session.first_cid = CID_ARQC
        self.session.genac_count = 1
        self.last_arqc_data = {**terminal, "82": app.aip, "9F36": atc, "9F10": iad, "9F26": ac}
        body = _tlv("82", app.aip) + _tlv("94", app.afl) + _tlv("9F36", atc) + _tlv("9F26", ac)
        body += _tlv("9F27", bytes([CID_ARQC])) + _tlv("9F10", iad)
        for tag in ("9F6C", "9F6E", "5F34"):
            if tag in app.data:
                body += _tlv(tag, app.data[tag])
        if app.oda == "fdda" and app.icc_key is not None:
            body += self._fdda(app, terminal)
        return _tlv("77", body) + _sw(SW_OK)

    def _fdda(self, app: Application, terminal: dict[str, bytes]) -> bytes:
        """fDDA version 01 (EMV Contactless Book C-3): the SDAD covers UN, amount,
        currency and the Card Authentication Related Data (9F69)."""
        assert app.icc_key is not None
        card_un = self._rng(4)
        auth_data = b"\x01" + card_un + app.data.get("9F6C", b"\x00\x00")
        terminal_data = (
            terminal.get("9F37", b"")
            + terminal.get("9F02", b"")
            + terminal.get("5F2A", b"")
            + auth_data
        )
        number = self._rng(8)
        sdad = signed_dynamic_data(
            app.icc_key,
            icc_dynamic_data=bytes([len(number)]) + number,
            terminal_data=terminal_data,
            corrupt="sdad" in self.faults.bad_signatures,
        )
        return _tlv("9F69", auth_data) + _tlv("9F4B", sdad)

    # -- GET DATA ---------------------------------------------------------------------
    def _get_data(self, header: bytes, data: bytes) -> bytes:
        app = self.session.app
        if app is None:
            return _sw(SW_DATA_NOT_FOUND)
        tag = header[2:4].hex().upper()
        state = self.states[app.aid]
        values = {
            "9F36": state.atc.to_bytes(2, "big"),
            "9F13": state.last_online_atc.to_bytes(2, "big"),
            "9F17": bytes([state.pin_tries]),
        }
        if "9F4F" in app.data:
            values["9F4F"] = app.data["9F4F"]
        for extra in ("9F14", "9F23"):
            values[extra] = state.data_updates.get(extra, app.data.get(extra, b""))
        value = values.get(tag)
        if not value or (tag == "9F17" and app.pin is None):
            return _sw(SW_DATA_NOT_FOUND)
        return _tlv(tag, value) + _sw(SW_OK)

    # -- GET CHALLENGE / VERIFY ------------------------------------------------------
    def _get_challenge(self, header: bytes, data: bytes) -> bytes:
        self.session.challenge = self._rng(8)
        return self.session.challenge + _sw(SW_OK)

    def _verify(self, header: bytes, data: bytes) -> bytes:
        # EMV 4.4 Book 3, 6.5.12 VERIFY; Book 2, 7.2 enciphered PIN
        app = self.session.app
        if app is None:
            return _sw(SW_CONDITIONS)
        if app.pin is None and self.states[app.aid].pin is None:
            return _sw(SW_REF_DATA_INVALID)  # no reference PIN: Book 3 10.5.1 reads it as blocked
        if header[2] != 0x00 or header[3] not in (0x80, 0x88):
            return _sw(SW_WRONG_P1P2)
        state = self.states[app.aid]
        if state.pin_tries == 0:
            return _sw(SW_PIN_BLOCKED)
        if header[3] == 0x80:
            pin = _pin_from_block(data)
        else:
            challenge, self.session.challenge = self.session.challenge, None
            key = app.pin_key or app.icc_key
            if challenge is None or key is None:
                return _sw(SW_CONDITIONS)
            if len(data) != key.size:
                return _sw(SW_WRONG_LENGTH)
            clear = key.sign_raw(data)  # the private operation deciphers
            if clear[0] != 0x7F or clear[9:17] != challenge:
                return _sw(SW_WRONG_DATA)
            pin = _pin_from_block(clear[1:9])
        if pin is None:
            return _sw(SW_WRONG_DATA)
        if pin == state.pin:
            state.pin_tries = app.pin_try_limit
            self.session.offline_pin_ok = True
            return _sw(SW_OK)
        state.pin_tries -= 1
        self.session.offline_pin_failed = True
        return _sw(SW_VERIFY_FAIL | state.pin_tries)

    # -- INTERNAL AUTHENTICATE ------------------------------------------------------
    def _internal_authenticate(self, header: bytes, data: bytes) -> bytes:
        # EMV 4.4 Book 2, 6.5 dynamic signature over the DDOL data
        app = self.session.app
        if app is None or app.icc_key is None or not app.aip[0] & 0x20:
            return _sw(SW_CONDITIONS)
        if not data:
            return _sw(SW_WRONG_LENGTH)
        number = self._rng(8)
        sdad = signed_dynamic_data(
            app.icc_key,
            icc_dynamic_data=bytes([len(number)]) + number,
            terminal_data=data,
            corrupt="sdad" in self.faults.bad_signatures,
        )
        if app.genac_format == 2:
            return _tlv("77", _tlv("9F4B", sdad)) + _sw(SW_OK)
        return _tlv("80", sdad) + _sw(SW_OK)

    # -- GENERATE AC --------------------------------------------------------------------
    def _generate_ac(self, header: bytes, data: bytes) -> bytes:
        # EMV 4.4 Book 3, 6.5.5 and 9.2; Book 2, 6.6 (CDA)
        session, app = self.session, self.session.app
        if app is None or not session.gpo_done or session.genac_count >= 2:
            return _sw(SW_CONDITIONS)
        if session.genac_count == 1 and session.first_cid != CID_ARQC:
            return _sw(SW_CONDITIONS)
        requested = header[2] & 0xC0
        cda = bool(header[2] & 0x10)
        if requested == 0xC0 or header[3] != 0:
            return _sw(SW_WRONG_P1P2)
        first = session.genac_count == 0
        dol = app.cdol1 if first else app.cdol2
        if len(data) != dol_length(dol):
            return _sw(SW_WRONG_LENGTH)
        values = split_dol_data(dol, data)
        session.terminal.update(values)
        state = self.states[app.aid]
        if first:
            session.cdol1_data = data
            cid = self._first_decision(app, state, requested)
        else:
            cid = self._second_decision(app, state, requested, values)
        session.genac_count += 1
        if first:
            session.first_cid = cid
        atc = state.atc.to_bytes(2, "big")
        iad = self._iad(app, cid, None if first else session.issuer_auth)
        ac = cryptogram.application_cryptogram(
            app.cryptogram, app.icc_keys, session.terminal, app.aip, atc, iad
        )
        if cid == CID_ARQC:
            session.arqc = ac
            self.last_arqc_data = {
                **session.terminal,
                "82": app.aip,
                "9F36": atc,
                "9F10": iad,
                "9F26": ac,
            }
        if cid == CID_TC and not first and session.issuer_auth:
            state.last_online_atc = state.atc
        if cid in (CID_TC, CID_ARQC):
            self._log(app, state, session.terminal, cid, atc)
        use_cda = cda and bool(app.aip[0] & 0x01) and app.icc_key is not None and cid != CID_AAC
        if use_cda:
            return self._cda_response(app, session, cid, ac, atc, iad, first, data) + _sw(SW_OK)
        if app.genac_format == 2:
            body = (
                _tlv("9F27", bytes([cid]))
                + _tlv("9F36", atc)
                + _tlv("9F26", ac)
                + _tlv("9F10", iad)
            )
            return _tlv("77", body) + _sw(SW_OK)
        return _tlv("80", bytes([cid]) + atc + ac + iad) + _sw(SW_OK)

    def _cda_response(
        self,
        app: Application,
        session: Session,
        cid: int,
        ac: bytes,
        atc: bytes,
        iad: bytes,
        first: bool,
        cdol_data: bytes,
    ) -> bytes:
        assert app.icc_key is not None
        # EMV 4.4 Book 2, 6.6.1: the Transaction Data Hash Code covers PDOL data, CDOL1
        # data, (CDOL2 data,) and the response's TLVs other than the SDAD, in order
        plain = _tlv("9F27", bytes([cid])) + _tlv("9F36", atc) + _tlv("9F10", iad)
        hashed = session.pdol_data + session.cdol1_data + (b"" if first else cdol_data) + plain
        tdhc = hashlib.sha1(hashed).digest()  # noqa: S324 - Book 2 6.6.1 mandates SHA-1
        number = self._rng(8)
        dynamic = bytes([len(number)]) + number + bytes([cid]) + ac + tdhc
        sdad = signed_dynamic_data(
            app.icc_key,
            icc_dynamic_data=dynamic,
            terminal_data=session.terminal.get("9F37", b""),
            corrupt="sdad" in self.faults.bad_signatures,
        )
        return _tlv(
            "77",
            _tlv("9F27", bytes([cid])) + _tlv("9F36", atc) + _tlv("9F4B", sdad) + _tlv("9F10", iad),
        )

    def _first_decision(self, app: Application, state: AppState, requested: int) -> int:
        # EMV 4.4 Book 3, 10.8 card action analysis with the profile's risk rules
        if requested == CID_AAC or state.blocked:
            return CID_AAC
        risk = app.risk
        amount = int(self.session.terminal.get("9F02", b"\x00").hex() or "0")
        if risk.decline_above is not None and amount > risk.decline_above:
            return CID_AAC
        if requested == CID_ARQC:
            return CID_ARQC
        offline_count = state.atc - state.last_online_atc
        lcol = state.data_updates.get("9F14", bytes([app.lcol]))[0]
        ucol = state.data_updates.get("9F23", bytes([app.ucol]))[0]
        go_online = (
            risk.always_online
            or (risk.new_card_online and state.last_online_atc == 0)
            or offline_count > lcol
            or (
                risk.international_online
                and self.session.terminal.get("9F1A", app.issuer_country) != app.issuer_country
            )
            or state.pin_tries == 0
            or self.session.offline_pin_failed
        )
        if go_online:
            return CID_AAC if offline_count > ucol and risk.decline_offline else CID_ARQC
        return CID_AAC if risk.decline_offline else CID_TC

    def _second_decision(
        self, app: Application, state: AppState, requested: int, values: dict[str, bytes]
    ) -> int:
        session = self.session
        if "91" in values and session.issuer_auth is None and any(values["91"]):
            session.issuer_auth = cryptogram.issuer_authentication_ok(
                app.cryptogram,
                app.icc_keys,
                state.atc.to_bytes(2, "big"),
                session.terminal.get("9F37", b"\x00" * 4),
                session.arqc,
                _trim91(app, values["91"]),
            )
        if requested != CID_TC or state.blocked:  # a script may have blocked the application
            return CID_AAC
        if session.issuer_auth is False and app.risk.decline_on_issuer_auth_failure:
            return CID_AAC
        arc = values.get("8A", b"00")
        if arc not in APPROVAL_CODES:
            return CID_AAC
        return CID_TC

    def _iad(self, app: Application, cid: int, issuer_auth: bool | None) -> bytes:
        """Issuer Application Data with a CVR that tells the issuer what the card saw."""
        state = self.states[app.aid]
        session = self.session
        ac_bits = {CID_AAC: 0b00, CID_TC: 0b01, CID_ARQC: 0b10}[cid]
        first_bits = (
            ac_bits
            if session.genac_count == 0
            else {CID_AAC: 0, CID_TC: 1, CID_ARQC: 2}.get(session.first_cid or 0, 0)
        )
        second_bits = ac_bits if session.genac_count == 1 else 0b10
        b1 = (second_bits << 6) | (first_bits << 4)
        if issuer_auth is False:
            b1 |= 0x08
        if session.offline_pin_ok or session.offline_pin_failed:
            b1 |= 0x04
        if session.offline_pin_failed:
            b1 |= 0x02
        b2 = 0x40 if state.pin_tries == 0 else 0x00
        cvn = cryptogram.CVN_BYTES[app.cryptogram]
        if app.cryptogram == "mc-cvn16":
            cvr = bytes([b1, b2, 0x00, 0x00, 0x00, 0x00])
            return bytes([0x01, cvn]) + cvr + b"\x00" * 10  # KDI, CVN, CVR(6), DAC, counters
        return bytes([0x06, 0x01, cvn, 0x03, b1, b2, 0x00])  # length, DKI, CVN, CVR(4)

    def _log(
        self, app: Application, state: AppState, terminal: dict[str, bytes], cid: int, atc: bytes
    ) -> None:
        # EMV 4.4 Book 3, Annex D: each log record holds the values the Log Format lists
        log_format = app.data.get("9F4F")
        if not app.log_sfi or not log_format:
            return
        values = {**terminal, "9F36": atc, "9F27": bytes([cid])}
        entry = b"".join(
            values.get(tag, b"").rjust(length, b"\x00")[-length:]
            for tag, length in parse_dol(log_format)
        )
        state.log.append(entry)
        del state.log[:-10]

    # -- EXTERNAL AUTHENTICATE -----------------------------------------------------
    def _external_authenticate(self, header: bytes, data: bytes) -> bytes:
        # EMV 4.4 Book 3, 6.5.4: once, after an ARQC, before the second GENERATE AC
        session, app = self.session, self.session.app
        if (
            app is None
            or session.first_cid != CID_ARQC
            or session.genac_count != 1
            or session.issuer_auth is not None
        ):
            return _sw(SW_CONDITIONS)
        if not 8 <= len(data) <= 16:
            return _sw(SW_WRONG_LENGTH)
        state = self.states[app.aid]
        session.issuer_auth = cryptogram.issuer_authentication_ok(
            app.cryptogram,
            app.icc_keys,
            state.atc.to_bytes(2, "big"),
            session.terminal.get("9F37", b"\x00" * 4),
            session.arqc,
            data,
        )
        return _sw(SW_OK if session.issuer_auth else SW_ISSUER_AUTH_FAIL)

    # -- issuer script commands ---------------------------------------------------
    def _script(self, header: bytes, data: bytes) -> bytes:
        # EMV 4.4 Book 3, 6.5 (APPLICATION BLOCK/UNBLOCK, PIN CHANGE/UNBLOCK, PUT DATA)
        # with Book 2, 9.2 secure-messaging MAC over header || ATC || ARQC || data
        session, app = self.session, self.session.app
        if app is None or not session.arqc:
            return _sw(SW_CONDITIONS)
        if header[0] & 0x0C != 0x04 or len(data) < cryptogram.MAC_LENGTH:
            return _sw(SW_SM_INCORRECT)
        state = self.states[app.aid]
        atc = state.atc.to_bytes(2, "big")
        payload, mac = data[: -cryptogram.MAC_LENGTH], data[-cryptogram.MAC_LENGTH :]
        lc = bytes([len(data)])
        arqc = session.arqc
        if app.cryptogram == "mc-cvn16":  # the AC counts up by one per script command
            arqc = (int.from_bytes(arqc, "big") + session.script_counter).to_bytes(8, "big")
        if not cryptogram.script_mac_ok(
            app.cryptogram, app.icc_keys, header + lc, payload, mac, atc, arqc
        ):
            return _sw(SW_SM_INCORRECT)
        session.script_counter += 1
        ins = header[1]
        if ins == 0x1E:  # APPLICATION BLOCK
            state.blocked = True
        elif ins == 0x18:  # APPLICATION UNBLOCK
            state.blocked = False
        elif ins == 0x24:  # PIN CHANGE/UNBLOCK
            if header[3] in (0x01, 0x02):
                try:
                    block = cryptogram.decipher_script_data(
                        app.cryptogram, app.icc_keys, payload, atc, arqc
                    )
                except SimError:
                    return _sw(SW_WRONG_DATA)
                current = state.pin if header[3] == 0x01 else None
                pin = cryptogram.new_pin_from_block(app.cryptogram, app.icc_keys, block, current)
                if pin is None:
                    return _sw(SW_WRONG_DATA)
                state.pin = pin
            state.pin_tries = app.pin_try_limit
        elif ins == 0xDA:  # PUT DATA
            state.data_updates[header[2:4].hex().upper()] = payload
        return _sw(SW_OK)


def _trim91(app: Application, value: bytes) -> bytes:
    """CDOL2 gives tag 91 a fixed length; method 1 uses exactly 10 bytes."""
    if app.cryptogram != "visa-cvn18":
        return value[:10]
    return value


def _pin_from_block(block: bytes) -> str | None:
    # ISO 9564-1 format 2 (EMV 4.4 Book 3, 6.5.12): '2' L PIN digits 'F' padding
    if len(block) != 8:
        return None
    digits = block.hex().upper()
    length = int(digits[1], 16)
    if digits[0] != "2" or not 4 <= length <= 12:
        return None
    pin, pad = digits[2 : 2 + length], digits[2 + length :]
    if not pin.isdigit() or set(pad) - {"F"}:
        return None
    return pin


def _break_length(body: bytearray) -> None:
    """Make the outermost TLV claim more bytes than it holds (fault: malformed TLV)."""
    offset = 1 if body[0] & 0x1F != 0x1F else 2
    if body[offset] < 0x80:
        body[offset] = min(0x7F, body[offset] + 5)
    else:
        body[offset + 1] = min(0xFF, body[offset + 1] + 5)


def _parse(apdu: bytes) -> tuple[bytes, bytes, bool]:
    """Header and command data of a short APDU (ISO 7816-3 cases 1-4)."""
    header = apdu[:4]
    body = apdu[4:]
    if len(body) <= 1:
        return header, b"", True
    lc = body[0]
    data = body[1 : 1 + lc]
    ok = len(body) - 1 - lc in (0, 1) and len(data) == lc
    return header, data, ok


_NAMES = {
    (0x00, 0xA4): "SELECT",
    (0x00, 0xB2): "READ_RECORD",
    (0x80, 0xA8): "GPO",
    (0x80, 0xCA): "GET_DATA",
    (0x80, 0xAE): "GENERATE_AC",
    (0x00, 0x88): "INTERNAL_AUTHENTICATE",
    (0x00, 0x84): "GET_CHALLENGE",
    (0x00, 0x20): "VERIFY",
    (0x00, 0x82): "EXTERNAL_AUTHENTICATE",
}


def _command_name(apdu: bytes) -> str:
    if len(apdu) < 2:
        return "?"
    if apdu[0] in (0x84, 0x04) and apdu[1] in (0x1E, 0x18, 0x24, 0xDA, 0x16):
        return "SCRIPT"
    return _NAMES.get((apdu[0], apdu[1]), f"INS_{apdu[1]:02X}")


_HANDLERS: dict[str, Callable[[VirtualCard, bytes, bytes], bytes]] = {
    "SELECT": VirtualCard._select,
    "READ_RECORD": VirtualCard._read_record,
    "GPO": VirtualCard._gpo,
    "GET_DATA": VirtualCard._get_data,
    "GENERATE_AC": VirtualCard._generate_ac,
    "INTERNAL_AUTHENTICATE": VirtualCard._internal_authenticate,
    "GET_CHALLENGE": VirtualCard._get_challenge,
    "VERIFY": VirtualCard._verify,
    "EXTERNAL_AUTHENTICATE": VirtualCard._external_authenticate,
    "SCRIPT": VirtualCard._script,
}
