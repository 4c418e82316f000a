"""`posterm tlv HEX`: decode BER-TLV into a named tree, values spelled out.

PAN and track data are masked (first 6 / last 4) and there is deliberately no
switch to unmask them: the output ends up in tickets and chat logs.
"""

from __future__ import annotations

import argparse
import string
import sys
from collections.abc import Iterable
from typing import Any

from emv import tags
from emv.tlv import DecodeReport, Tlv, TlvError, decode, tag_bytes

EXIT_USAGE = 2
_HEX = frozenset(string.hexdigits)
_SEPARATORS = frozenset(" \t\r\n:")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tlv",
        help="decode BER-TLV into a named tree",
        description="Decode BER-TLV (EMV Book 3 Annex B) and name every tag. "
        "Spaces and colons in HEX are ignored.",
    )
    parser.add_argument("hex", nargs="+", metavar="HEX", help="the TLV bytes in hexadecimal")
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="tolerate known card quirks (reported on stderr) instead of failing",
    )
    parser.set_defaults(func=run)


def parse_hex(text: str) -> bytes:
    """Hex text to bytes; separators allowed between byte pairs.

    Raises
    ------
    ValueError
        Naming the character position of the first bad character.
    """
    digits: list[str] = []
    for position, char in enumerate(text):
        if char in _SEPARATORS:
            continue
        if char not in _HEX:
            raise ValueError(f"not hexadecimal: {char!r} at character {position}")
        digits.append(char)
    if len(digits) % 2:
        raise ValueError("odd number of hex digits")
    return bytes.fromhex("".join(digits))


def render(items: Iterable[Tlv], depth: int = 0) -> list[str]:
    """The tree as indented lines: tag, name, then the value for people."""
    lines: list[str] = []
    pad = "  " * depth
    for item in items:
        tag_hex = tag_bytes(item.tag).hex().upper()
        info = tags.lookup(item.tag)
        name = info.name if info is not None else "(unknown tag)"
        if item.constructed:
            lines.append(f"{pad}{tag_hex} {name} [{len(item.value)} bytes]")
            lines.extend(render(item.children, depth + 1))
        else:
            shown = tags.format_value(item.tag, item.value) if item.value else "(empty)"
            lines.append(f"{pad}{tag_hex} {name}: {shown}")
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        data = parse_hex(" ".join(args.hex))
    except ValueError as error:
        print(f"posterm tlv: {error}", file=sys.stderr)
        return EXIT_USAGE
    report = DecodeReport()
    try:
        items = decode(data, strict=not args.lenient, report=report)
    except TlvError as error:
        hint = "" if args.lenient else " (try --lenient)"
        print(f"posterm tlv: malformed TLV: {error}{hint}", file=sys.stderr)
        return EXIT_USAGE
    for line in render(items):
        print(line)
    for offset, quirk in report.quirks:
        print(f"posterm tlv: tolerated at offset {offset}: {quirk}", file=sys.stderr)
    return 0
