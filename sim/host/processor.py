"""Request -> response logic of the acquirer host (host-spec "Messages").

The server hands each decoded request here; this module checks KSN/MAC/PIN/ARQC, applies
the rules, writes the ledger inside one SQLite transaction and returns the response
fields plus the key its MAC must be computed under. Data-table driven where host-spec is
a table (MTIs, processing codes).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sim.host import codec, emvauth, scripts, security
from sim.host.errors import FieldError, HostError
from sim.host.ledger import Ledger, Totals, Txn
from sim.host.rules import CardRule, Rules

# host-spec "Processing codes (DE 3)": (MTI, DE 3) -> kind of transaction.
KINDS: dict[tuple[str, str], str] = {
    ("0100", "000000"): "preauth",
    ("0200", "000000"): "sale",
    ("0200", "200000"): "refund",
    ("0200", "020000"): "void",
    ("0200", "220000"): "void",
    ("0200", "310000"): "balance",
    ("0200", "210000"): "topup",
}
VOIDABLE = {"020000": "sale", "220000": "refund"}
# Response fields echoed from the request (all <= 64 so responses carry DE 64).
ECHO = ("3", "4", "11", "12", "13", "24", "41", "42", "49")
REQUEST_MTIS = {"0800", "0100", "0200", "0220", "0320", "0400", "0401", "0500"}
MAX_ICC_RESPONSE = 255  # iso8583.specs.default DE 55 max_len
REVERSIBLE = {"authorised", "advised", "completed", "voided"}


def response_mti(mti: str) -> str:
    """0100->0110, 0401->0410 (ISO 8583:1987 message class/function)."""
    if mti == "0401":
        return "0410"
    return mti[:2] + str(min(int(mti[2]) + 1, 9)) + "0"


@dataclass(slots=True)
class Reply:
    """Response fields and the key the response MAC uses (None: no MAC, e.g. 0810)."""

    fields: dict[str, str]
    mac_key: bytes | None
    txn_id: int | None = None
    reversal_of: tuple[str, str] | None = None  # (TID, original STAN) of a 0400

    def __repr__(self) -> str:
        return f"Reply(mti={self.fields.get('t')}, rc={self.fields.get('39')})"


@dataclass
class _Ctx:
    """One request on its way through the checks (kept private to this module)."""

    fields: Mapping[str, str]
    de48: dict[str, str]
    tid: str
    batch: str
    keys: security.SessionKeys | None
    pan: str = ""
    icc: dict[str, bytes] = field(default_factory=dict)
    auth: emvauth.OnlineAuth | None = None
    issuer: emvauth.IssuerKeys | None = None
    pin: str | None = field(default=None, repr=False)  # clear PIN, memory only
    pin_checked: bool = False
    balance_delta: int = 0  # what this request did to a prepaid balance


class Processor:
    def __init__(
        self,
        rules: Rules,
        ledger: Ledger,
        dukpt: security.DukptHost,
        declines: Callable[[], bool],
    ) -> None:
        self.rules = rules
        self.ledger = ledger
        self.dukpt = dukpt
        self._declines = declines
        self.scripts = scripts.ScriptQueue()

    # --- entry point ---

    def handle(self, raw: bytes, fields: Mapping[str, str], conn: int) -> Reply:
        mti = fields.get("t", "")
        out: dict[str, str] = {
            "t": response_mti(mti) if mti[:1] == "0" and len(mti) == 4 else "0810"
        }
        for de in ECHO:
            if de in fields:
                out[de] = fields[de]
        if mti == "0800":
            return self._network(fields, out, conn)
        try:
            de48 = codec.parse_de48(fields.get("48", ""))
            ksn = security.parse_ksn(de48["KS"]) if "KS" in de48 else None
        except FieldError:
            de48, ksn = {}, None
        if ksn is None:
            # No usable KSN: no key to MAC a response under; format error, unMACed.
            out["39"] = "30"
            self.ledger.record_message("in", conn, fields, note="no KSN")
            self.ledger.record_message("out", conn, out)
            return Reply(out, None)
        keys = self.dukpt.keys_for(ksn)
        out["48"] = codec.build_de48(
            {"KS": de48["KS"]} | ({"BN": de48["BN"]} if "BN" in de48 else {})
        )
        # Crypto first, before any ledger work (pure; for a caller outside a ledger group
        # this also keeps it outside the ledger lock).
        parts = codec.mac_parts(raw, fields)
        mac_valid = parts is not None and security.mac_ok(keys.mac_request, parts[0], parts[1])
        ctx = _Ctx(fields=fields, de48=de48, tid=fields.get("41", ""), batch="", keys=keys)
        if mac_valid:
            self._precheck(ctx)
        with self.ledger.transaction():
            self.ledger.record_message("in", conn, fields)
            if not mac_valid:
                out["39"] = "96"  # host-spec "Security": a request whose MAC fails gets 96
                self.ledger.record_message("out", conn, out, note="MAC failed")
                return Reply(out, keys.mac_response)
            if mti not in REQUEST_MTIS:
                out["39"] = "12"
                self.ledger.record_message("out", conn, out)
                return Reply(out, keys.mac_response)
            tid = ctx.tid
            batch = ctx.batch = self.ledger.open_batch(tid, de48.get("BN"))
            stan = fields.get("11", "")
            if not self.ledger.mark_stan(tid, batch, stan, mti):
                out["39"] = "94"  # host-spec DE 39: duplicate STAN within the open batch
                self.ledger.record_message("out", conn, out, note="duplicate STAN")
                return Reply(out, keys.mac_response)
            refusal = self._refusal(mti, fields, batch, tid)
            if refusal is not None:
                out["39"] = refusal
                self.ledger.record_message("out", conn, out, note="refused")
                return Reply(out, keys.mac_response)
            try:
                reply = self._dispatch(mti, ctx, out)
            except (FieldError, KeyError, ValueError):
                out["39"] = "30"
                reply = Reply(out, keys.mac_response)
            reply.mac_key = keys.mac_response
            self.ledger.record_message("out", conn, reply.fields)
            return reply

    def _refusal(self, mti: str, fields: Mapping[str, str], batch: str, tid: str) -> str | None:
        """Message-level refusals before any business logic."""
        if "1" in fields and not any(k.isdigit() and int(k) > 64 for k in fields):
            return "30"  # host-spec "Encoding": DE 1 exactly when a field above 64 is present
        return None

    def _precheck(self, ctx: _Ctx) -> None:
        """PIN decryption and ARQC verification: pure, so done before the ledger work."""
        f = ctx.fields
        pan = f.get("2") or f.get("35", "").split("=")[0].split("D")[0]
        if not pan.isdigit() or f.get("t") not in ("0100", "0200"):
            return
        try:
            if "52" in f and ctx.keys is not None:
                ctx.pin = security.decrypt_pin(ctx.keys, bytes.fromhex(f["52"]), pan)
                ctx.pin_checked = True
            if "55" in f:
                ctx.icc = emvauth.parse_icc(f["55"])
                ctx.issuer = self.rules.issuer_for(pan)
                ctx.auth = emvauth.verify_arqc(ctx.issuer, pan, f.get("23", "000")[-2:], ctx.icc)
        except (ValueError, KeyError, TypeError):
            ctx.pin_checked, ctx.auth = False, None  # redone (and refused) in _card_checks

    def _dispatch(self, mti: str, ctx: _Ctx, out: dict[str, str]) -> Reply:
        if mti in ("0100", "0200"):
            return self._financial(mti, ctx, out)
        if mti == "0220":
            return self._advice(ctx, out)
        if mti == "0320":
            return self._upload(ctx, out)
        if mti in ("0400", "0401"):
            return self._reversal(ctx, out)
        return self._settlement(ctx, out)

    # --- 0800 ---

    def _network(self, fields: Mapping[str, str], out: dict[str, str], conn: int) -> Reply:
        code = fields.get("70", "")
        out["70"] = code
        # host-spec: 001 sign-on, 301 echo test, 161 key change notice.
        out["39"] = "00" if code in ("001", "301", "161") else "12"
        with self.ledger.transaction():
            self.ledger.record_message("in", conn, fields)
            self.ledger.record_message("out", conn, out)
        return Reply(out, None)

    # --- 0100 / 0200 ---

    def _financial(self, mti: str, ctx: _Ctx, out: dict[str, str]) -> Reply:
        f = ctx.fields
        pcode = f.get("3", "")
        kind = KINDS.get((mti, pcode))
        amount = int(f.get("4", "0") or 0)
        if kind is None:
            return self._finish(ctx, out, mti, "unknown", amount, "12")
        if self._declines() or self.rules.declines:
            return self._finish(ctx, out, mti, kind, amount, "05", note="declines switch")
        if kind == "void":
            return self._void(ctx, out, pcode, amount)
        if "QR" in ctx.de48:
            return self._qr(ctx, out, mti, kind, amount)
        if "VC" in ctx.de48:
            return self._voucher(ctx, out, mti, kind, amount)
        pan = f.get("2") or f.get("35", "").split("=")[0].split("D")[0]
        if not pan.isdigit():
            raise FieldError("2", "no PAN and no QR/VC sub-element")
        ctx.pan = pan
        card = self.rules.card_for(pan)
        if card is None:
            return self._finish(ctx, out, mti, kind, amount, "14")  # invalid card number
        rc = self._card_checks(ctx, card)
        if rc is None:
            rc = self._apply_amount(ctx, card, kind, amount, out)
        return self._finish(ctx, out, mti, kind, amount, rc, card=card, instrument="card")

    def _card_checks(self, ctx: _Ctx, card: CardRule) -> str | None:
        f = ctx.fields
        expiry = f.get("14") or _track2_expiry(f.get("35", ""))
        if expiry and _expired(expiry, self.rules.current_date()):
            return "54"
        if "52" in f and ctx.keys is not None:
            if not ctx.pin_checked:
                ctx.pin = security.decrypt_pin(ctx.keys, bytes.fromhex(f["52"]), ctx.pan)
            if ctx.pin is None or (card.pin is not None and ctx.pin != card.pin):
                return "55"
        elif card.pin_required:
            return "55"
        if "55" in f:
            if ctx.auth is None:
                ctx.icc = emvauth.parse_icc(f["55"])
                ctx.issuer = self.rules.issuer_for(ctx.pan)
                psn = f.get("23", "000")[-2:]
                ctx.auth = emvauth.verify_arqc(ctx.issuer, ctx.pan, psn, ctx.icc)
            if ctx.auth.arqc_ok is False:
                return "05"
            if self.rules.require_arqc and ctx.auth.arqc_ok is not True:
                return "05"
        if card.response is not None:
            return card.response
        return None

    def _apply_amount(
        self, ctx: _Ctx, card: CardRule, kind: str, amount: int, out: dict[str, str]
    ) -> str:
        prepaid = card.balance is not None
        opening = card.balance or 0
        if kind == "balance":
            if prepaid:
                _set_balance(out, self.ledger.balance(ctx.pan, opening), self._currency(ctx))
                return "00"
            if card.max_amount is not None:
                _set_balance(out, card.max_amount, self._currency(ctx))
                return "00"
            return "57"
        if kind == "topup":
            if not prepaid:
                return "57"
            ctx.balance_delta = amount
            _set_balance(
                out, self.ledger.adjust_balance(ctx.pan, opening, amount), self._currency(ctx)
            )
            return "00"
        if card.max_amount is not None and amount > card.max_amount and kind in ("sale", "preauth"):
            return "51"
        if prepaid and kind in ("sale", "preauth"):
            available = self.ledger.balance(ctx.pan, opening)
            if amount > available:
                return "51"
            if kind == "sale":
                ctx.balance_delta = -amount
                available = self.ledger.adjust_balance(ctx.pan, opening, -amount)
            _set_balance(out, available, self._currency(ctx))
        if prepaid and kind == "refund":
            ctx.balance_delta = amount
            _set_balance(
                out, self.ledger.adjust_balance(ctx.pan, opening, amount), self._currency(ctx)
            )
        return "00"

    def _currency(self, ctx: _Ctx) -> str:
        return ctx.fields.get("49", self.rules.currency)

    def _qr(self, ctx: _Ctx, out: dict[str, str], mti: str, kind: str, amount: int) -> Reply:
        rule = self.rules.qr_code(ctx.de48["QR"])
        if rule is None:
            rc = "14"
        elif rule.response is not None:
            rc = rule.response
        elif rule.max_amount is not None and amount > rule.max_amount:
            rc = "51"
        else:
            rc = "00" if kind in ("sale", "refund", "preauth") else "57"
        return self._finish(ctx, out, mti, kind, amount, rc, instrument="qr")

    def _voucher(self, ctx: _Ctx, out: dict[str, str], mti: str, kind: str, amount: int) -> Reply:
        code = ctx.de48["VC"]
        rule = self.rules.voucher(code)
        if rule is None:
            rc = "14"
        elif kind != "sale":
            rc = "57"
        elif rule.expires is not None and rule.expires < self.rules.current_date():
            rc = "54"
        elif self.ledger.voucher_redeemed_by(code) is not None:
            rc = "57"  # already redeemed: not permitted
        elif amount > rule.value:
            rc = "51"
        else:
            rc = "00"
        reply = self._finish(ctx, out, mti, kind, amount, rc, instrument="voucher")
        if rc == "00" and reply.txn_id is not None:
            self.ledger.redeem_voucher(code, reply.txn_id)
        return reply

    def _void(self, ctx: _Ctx, out: dict[str, str], pcode: str, amount: int) -> Reply:
        rrn = ctx.fields.get("37", "")
        original = self.ledger.find_by_rrn(ctx.tid, rrn) if rrn else None
        if original is None or original.kind != VOIDABLE[pcode] or original.rc != "00":
            return self._finish(ctx, out, "0200", "void", amount, "25")
        if original.state != "authorised":
            return self._finish(ctx, out, "0200", "void", amount, "12", original=original)
        reply = self._finish(ctx, out, "0200", "void", amount, "00", original=original)
        self.ledger.update_txn(original.id, state="voided")
        self._undo_effects(original)
        return reply

    def _undo_effects(self, txn: Txn) -> None:
        """Give back what an approved transaction took (prepaid balance, voucher)."""
        if txn.instrument == "voucher":
            self.ledger.release_voucher(txn.id)
        if txn.balance_delta and txn.pan_token:
            self.ledger.adjust_balance_token(txn.pan_token, -txn.balance_delta)

    def _redo_effects(self, txn: Txn) -> None:
        if txn.balance_delta and txn.pan_token:
            self.ledger.adjust_balance_token(txn.pan_token, txn.balance_delta)

    # --- response assembly ---

    def _finish(
        self,
        ctx: _Ctx,
        out: dict[str, str],
        mti: str,
        kind: str,
        amount: int,
        rc: str,
        *,
        card: CardRule | None = None,
        instrument: str | None = None,
        original: Txn | None = None,
        note: str | None = None,
        state: str | None = None,
    ) -> Reply:
        rrn = self._rrn()
        approved = rc == "00"
        auth_code = f"{self.ledger.next_sequence('auth') % 1000000:06d}" if approved else None
        txn_id = self.ledger.add_txn(
            tid=ctx.tid,
            mid=ctx.fields.get("42"),
            batch=ctx.batch,
            stan=ctx.fields.get("11", ""),
            mti=mti,
            pcode=ctx.fields.get("3", ""),
            kind=kind,
            amount=amount,
            currency=ctx.fields.get("49"),
            pan=ctx.pan or None,
            instrument=instrument,
            rrn=rrn,
            auth_code=auth_code,
            rc=rc,
            state=state or ("authorised" if approved else "declined"),
            original_id=original.id if original else None,
            note=note,
            balance_delta=ctx.balance_delta if approved else 0,
        )
        out["37"] = rrn
        if auth_code:
            out["38"] = auth_code
        out["39"] = rc
        icc = self._response_icc(ctx, rc, card)
        if icc:
            out["55"] = icc.hex().upper()
        return Reply(out, None, txn_id=txn_id)

    def _response_icc(self, ctx: _Ctx, rc: str, card: CardRule | None) -> bytes:
        auth, keys = ctx.auth, ctx.issuer
        if auth is None or keys is None or not auth.arqc_ok or auth.cvn is None:
            return b""
        if auth.cryptogram_type != emvauth.CID_ARQC:
            return b""
        psn = ctx.fields.get("23", "000")[-2:]
        data = emvauth.tlv(
            b"\x91", emvauth.issuer_auth_data(keys, auth.cvn, ctx.pan, psn, ctx.icc, rc)
        )
        commands: list[tuple[int, tuple[str, ...]]] = []
        order = self.scripts.take(ctx.pan)
        if order is not None:
            commands.append((order.tag, order.commands))
        if card is not None and card.scripts and (rc == "00" or self.rules.scripts_on_decline):
            commands.append((card.script_tag, card.scripts))
        index = 0
        for n, (tag, cmds) in enumerate(commands, start=1):
            built = []
            for command in cmds:
                built.append(
                    scripts.script_command(keys, auth.cvn, ctx.pan, psn, ctx.icc, command, index)
                )
                index += 1
            template = scripts.script_template(tag, n, built)
            if len(data) + len(template) > MAX_ICC_RESPONSE:
                break  # DE 55 is LLLVAR up to 255 bytes: scripts that do not fit are not sent
            data += template
        return data

    def _rrn(self) -> str:
        """12 characters: YDDD (Julian date) + HH + 6-digit sequence (ISO 8583 DE 37 an 12)."""
        now = _dt.datetime.now(_dt.UTC)
        seq = self.ledger.next_sequence("rrn") % 1000000
        return f"{now.year % 10}{now.timetuple().tm_yday:03d}{now.hour:02d}{seq:06d}"

    # --- 0220 advices ---

    def _advice(self, ctx: _Ctx, out: dict[str, str]) -> Reply:
        f = ctx.fields
        amount = int(f.get("4", "0") or 0)
        pan = f.get("2") or f.get("35", "").split("=")[0]
        ctx.pan = pan if pan.isdigit() else ""
        if "37" in f:  # pre-authorization completion: echoes the pre-auth's RRN
            original = self.ledger.find_by_rrn(ctx.tid, f["37"])
            if original is None or original.kind != "preauth" or original.state != "authorised":
                return self._finish(ctx, out, "0220", "completion", amount, "25", state="declined")
            self._prepaid_delta(ctx, -amount)
            reply = self._finish(
                ctx,
                out,
                "0220",
                "completion",
                amount,
                "00",
                original=original,
                state="advised",
                instrument="card",
            )
            out["37"] = f["37"]
            self.ledger.update_txn(original.id, state="completed")
            return reply
        decision = f.get("39", "")
        note = f"offline {decision}"
        if "55" in f and ctx.pan:
            ctx.icc = emvauth.parse_icc(f["55"])
            auth = emvauth.verify_arqc(
                self.rules.issuer_for(ctx.pan),
                ctx.pan,
                f.get("23", "000")[-2:],
                ctx.icc,
            )
            verdict = {True: "ok", None: "unverified", False: "FAILED"}[auth.arqc_ok]
            note += f"; TC {verdict}"
        kind = "refund" if f.get("3") == "200000" else "offline"
        self._prepaid_delta(ctx, amount if kind == "refund" else -amount)
        reply = self._finish(
            ctx, out, "0220", kind, amount, "00", state="advised", note=note, instrument="card"
        )
        out.pop("38", None)
        return reply

    def _prepaid_delta(self, ctx: _Ctx, delta: int) -> None:
        """Advices are not refused: a prepaid balance may go negative offline."""
        card = self.rules.card_for(ctx.pan) if ctx.pan else None
        if card is not None and card.balance is not None:
            self.ledger.adjust_balance(ctx.pan, card.balance, delta)
            ctx.balance_delta = delta

    # --- 0320 batch upload ---

    def _upload(self, ctx: _Ctx, out: dict[str, str]) -> Reply:
        f = ctx.fields
        rrn = f.get("37")
        match = self.ledger.find_by_rrn(ctx.tid, rrn) if rrn else None
        de90 = f.get("90", "")
        if match is None and len(de90) >= 10:  # offline advices have no RRN: use DE 90
            match = self.ledger.find_original(ctx.tid, de90[4:10], de90[:4])
        self.ledger.add_upload(
            tid=ctx.tid,
            batch=ctx.batch,
            stan=f.get("11", ""),
            pcode=f.get("3", ""),
            amount=int(f.get("4", "0") or 0),
            rrn=rrn,
            auth_code=f.get("38"),
            matched_id=match.id if match else None,
        )
        out["39"] = "00"
        return Reply(out, None)

    # --- 0400 / 0401 reversals ---

    def _reversal(self, ctx: _Ctx, out: dict[str, str]) -> Reply:
        de90 = ctx.fields.get("90", "")
        if len(de90) < 10:
            raise FieldError("90", "original data elements missing")
        orig_mti, orig_stan = de90[:4], de90[4:10]
        original = self.ledger.find_original(ctx.tid, orig_stan, orig_mti)
        amount = int(ctx.fields.get("4", "0") or 0)
        note = "original not found"
        if original is not None and original.state in REVERSIBLE and original.rc == "00":
            note = f"reverses txn {original.id}"
            self._reverse(original)
        elif original is not None:
            note = f"txn {original.id} was {original.state}"
        self.ledger.add_txn(
            tid=ctx.tid,
            mid=ctx.fields.get("42"),
            batch=ctx.batch,
            stan=ctx.fields.get("11", ""),
            mti=ctx.fields["t"],
            pcode=ctx.fields.get("3", ""),
            kind="reversal",
            amount=amount,
            currency=ctx.fields.get("49"),
            rc="00",
            state="authorised",
            original_id=original.id if original else None,
            note=note,
        )
        out["39"] = "00"
        return Reply(out, None, reversal_of=(ctx.tid, orig_stan))

    def _reverse(self, txn: Txn) -> None:
        if txn.kind == "void" and txn.original_id is not None:
            voided = self.ledger.txn(txn.original_id)
            if voided is not None and voided.state == "voided":
                self.ledger.update_txn(voided.id, state="authorised")
                self._redo_effects(voided)
        elif txn.kind == "completion" and txn.original_id is not None:
            self.ledger.update_txn(txn.original_id, state="authorised")
        if txn.state != "voided":
            self._undo_effects(txn)
        self.ledger.update_txn(txn.id, state="reversed")

    # --- 0500 settlement ---

    def _settlement(self, ctx: _Ctx, out: dict[str, str]) -> Reply:
        f = ctx.fields
        pcode = f.get("3", "")
        terminal = Totals(
            credits=int(f.get("74", "0") or 0),
            debits=int(f.get("76", "0") or 0),
            credit_amount=int(f.get("86", "0") or 0),
            debit_amount=int(f.get("88", "0") or 0),
        )
        host = self.ledger.totals(ctx.tid, ctx.batch)
        if pcode == "920000":
            rc = "00" if terminal == host else "95"  # host-spec rule 3: 95 when totals differ
            note = "" if rc == "00" else "totals differ"
        elif pcode == "960000":
            uploads = self.ledger.uploads(ctx.tid, ctx.batch)
            unmatched = sum(1 for u in uploads if u["matched_id"] is None)
            rc, note = "00", f"closed after {len(uploads)} uploads, {unmatched} unmatched"
        else:
            rc, note = "12", "unknown settlement processing code"
        self.ledger.add_settlement(ctx.tid, ctx.batch, pcode, terminal, host, rc, note)
        if rc == "00":
            self.ledger.close_batch(ctx.tid, ctx.batch)
        out["39"] = rc
        return Reply(out, None)


def _set_balance(out: dict[str, str], balance: int, currency: str) -> None:
    """DE 54 additional amounts (ISO 8583:1987): account type 00, amount type 02
    (available balance), currency, sign C/D, 12-digit minor units."""
    sign = "C" if balance >= 0 else "D"
    out["54"] = f"0002{currency}{sign}{abs(balance):012d}"


def _track2_expiry(track2: str) -> str:
    for sep in ("=", "D"):
        if sep in track2:
            tail = track2.split(sep, 1)[1]
            return tail[:4] if len(tail) >= 4 and tail[:4].isdigit() else ""
    return ""


def _expired(yymm: str, today: _dt.date) -> bool:
    """Cards are valid through the last day of the expiry month."""
    if len(yymm) != 4 or not yymm.isdigit():
        raise FieldError("14", "expiry must be YYMM")
    year, month = 2000 + int(yymm[:2]), int(yymm[2:])
    return (year, month) < (today.year, today.month)


__all__ = ["HostError", "Processor", "Reply"]
