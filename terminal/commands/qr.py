"""`posterm qr decode PAYLOAD`: an EMVCo QR payload as one JSON object (rig contract)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from emv.qr import QrError, decode_qr

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("qr", help="decode EMVCo QR payloads")
    actions = parser.add_subparsers(dest="qr_action", metavar="ACTION", required=True)
    decode = actions.add_parser("decode", help="decode a merchant- or consumer-presented payload")
    decode.add_argument("payload")
    decode.set_defaults(func=run_decode)


def run_decode(args: argparse.Namespace) -> int:
    try:
        payload = decode_qr(args.payload)
    except QrError as error:
        print(f"posterm qr decode: {error}", file=sys.stderr)
        return EXIT_USAGE
    document = {"mode": payload.mode, "crc_ok": payload.crc_ok, "fields": payload.fields}
    print(json.dumps(document, ensure_ascii=False))
    return 0
