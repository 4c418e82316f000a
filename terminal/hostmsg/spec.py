"""The host-spec wire tables: ISO 8583 field spec, MTI pairs, DE 3 / 22 / 25 / 39 tables.

The field spec IS ``iso8583.specs.default`` of pyiso8583 4.x, as host-spec "Encoding"
requires; :func:`check_spec` asserts at import that the fields host-spec names binary
(DE 52, 55, 64, 128) are binary there, so a future pyiso8583 that changed its default
would fail loudly instead of putting different bytes on the wire.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from iso8583 import specs

SPEC: dict[str, dict[str, Any]] = copy.deepcopy(specs.default)

BINARY_FIELDS = frozenset({52, 55, 64, 128})
MAX_FRAME = 4096  # host-spec "Transport": a longer frame is no valid response


def check_spec(spec: Mapping[str, Mapping[str, Any]]) -> None:
    for number in BINARY_FIELDS:
        if spec[str(number)]["data_enc"] != "b":
            raise RuntimeError(f"pyiso8583 default spec: DE {number} is not binary")
    if spec["t"]["max_len"] != 4 or spec["p"]["data_enc"] != "b":
        raise RuntimeError("pyiso8583 default spec: MTI/bitmap differ from host-spec")


check_spec(SPEC)

# host-spec "Messages": request MTI -> response MTI (0401 repeats answer 0410).
RESPONSE_MTI: dict[str, str] = {
    "0800": "0810",
    "0100": "0110",
    "0200": "0210",
    "0220": "0230",
    "0320": "0330",
    "0400": "0410",
    "0401": "0410",
    "0500": "0510",
}

# host-spec: every message except 0800/0810 carries DE 48 KS and a MAC.
UNMACED_MTIS = frozenset({"0800", "0810"})

# host-spec "Processing codes (DE 3)", by (transaction type, qualifier).
PROCESSING_CODES: dict[str, str] = {
    "sale": "000000",
    "preauth": "000000",
    "completion": "000000",
    "refund": "200000",
    "void_sale": "020000",
    "void_refund": "220000",
    "balance": "310000",
    "topup": "210000",
    "settlement": "920000",
    "settlement_after_upload": "960000",
}

# The MTI a transaction type's request goes out as.
REQUEST_MTI: dict[str, str] = {
    "sale": "0200",
    "refund": "0200",
    "void": "0200",
    "balance": "0200",
    "topup": "0200",
    "preauth": "0100",
    "completion": "0220",
}

# host-spec DE 22, first two digits, by entry method.
ENTRY_MODES: dict[str, str] = {
    "keyed": "01",
    "swipe": "02",
    "qr": "03",
    "chip": "05",
    "contactless": "07",
    "fallback": "80",
    "contactless_magstripe": "91",
}
PIN_CAPABLE = "1"  # DE 22 third digit: terminal can take a PIN
PIN_INCAPABLE = "2"

# host-spec DE 25.
POS_CONDITIONS: dict[str, str] = {"normal": "00", "preauth": "06", "moto": "08"}

# host-spec DE 70.
NETWORK_CODES: dict[str, str] = {"sign_on": "001", "echo": "301", "key_change": "161"}

# host-spec DE 39, with the text a receipt / `pay` reason shows.
RESPONSE_CODES: dict[str, str] = {
    "00": "approved",
    "05": "do not honor",
    "12": "invalid transaction",
    "14": "invalid card number",
    "25": "original not found",
    "30": "format error",
    "51": "insufficient funds",
    "54": "expired card",
    "55": "incorrect PIN",
    "57": "not permitted",
    "91": "issuer unavailable",
    "94": "duplicate STAN",
    "95": "reconcile error",
    "96": "system malfunction",
    "Y1": "offline approved",
    "Y3": "unable to go online, approved",
    "Z1": "offline declined",
    "Z3": "unable to go online, declined",
}
APPROVED_CODES = frozenset({"00", "Y1", "Y3"})


def entry_mode(method: str, pin_capable: bool) -> str:
    """DE 22 for an entry method, e.g. ``entry_mode("chip", True) == "051"``."""
    return ENTRY_MODES[method] + (PIN_CAPABLE if pin_capable else PIN_INCAPABLE)


def response_text(code: str | None) -> str:
    if code is None:
        return "no response"
    return RESPONSE_CODES.get(code, f"response code {code}")
