"""A strict, canonical ustar archive: the container of a firmware bundle.

Why our own ~100 lines instead of :mod:`tarfile`: the verifier must reject anything
that is not a plain file with a safe relative name (tarfile happily yields symlinks,
hard links, devices, PAX and GNU extensions, and stops silently at a corrupt header),
and it must be able to say "every byte of this file is accounted for". The writer
emits exactly one byte layout for a given list of entries and a modification time
(the same bytes :mod:`tarfile` writes in USTAR format for mode 0644, uid/gid 0),
so :func:`encode` doubles as the canonical-form check: a bundle verifies only when
re-encoding what was parsed reproduces the file byte for byte. The output is an
ordinary POSIX ustar archive that ``tar tvf`` lists and extracts.

Layout and field widths: POSIX.1-2017, pax "ustar Interchange Format".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from terminal.update.errors import BundleRejected

BLOCK = 512
RECORD = 20 * BLOCK  # conventional blocking factor 20, as tar and tarfile write
MAGIC = b"ustar\x0000"
FILE_MODE = 0o644
MAX_ENTRIES = 10_000

# pax ustar header: (offset, width) of each field.
_NAME = (0, 100)
_MODE = (100, 8)
_UID = (108, 8)
_GID = (116, 8)
_SIZE = (124, 12)
_MTIME = (136, 12)
_CHKSUM = (148, 8)
_TYPEFLAG = 156
_MAGIC = (257, 8)  # magic "ustar\0" + version "00"
_PREFIX = (345, 155)

# typeflag -> what it is, for the rejection message.
_TYPES = {
    b"1": "a hard link",
    b"2": "a symlink",
    b"3": "a character device",
    b"4": "a block device",
    b"5": "a directory",
    b"6": "a FIFO",
    b"7": "a contiguous file",
    b"x": "a pax extended header",
    b"g": "a pax global header",
    b"L": "a GNU long-name header",
    b"K": "a GNU long-link header",
}
_REGULAR = (b"0", b"\x00")
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9_.+@=,-]+$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One regular file in the archive."""

    name: str
    data: bytes


def check_path(name: str) -> None:
    """Refuse absolute names, traversal, empty or odd components (raise BundleRejected)."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or len(name.encode()) > 255
        or any(p in ("", ".", "..") or not _SAFE_COMPONENT.match(p) for p in parts)
    ):
        raise BundleRejected(f"unsafe path: {name!r}")


def encode(entries: list[Entry], mtime: int) -> bytes:
    """The one canonical ustar encoding of ``entries`` (mode 0644, uid/gid 0)."""
    out = bytearray()
    for entry in entries:
        check_path(entry.name)
        out += _header(entry.name, len(entry.data), mtime)
        out += entry.data
        out += bytes(-len(entry.data) % BLOCK)
    out += bytes(2 * BLOCK)  # end-of-archive: two zero blocks
    out += bytes(-len(out) % RECORD)
    return bytes(out)


def decode(data: bytes) -> list[Entry]:
    """Parse a ustar archive of plain files, strictly; anything else is rejected."""
    if len(data) % BLOCK:
        raise BundleRejected("bundle is truncated (not a whole number of tar blocks)")
    entries: list[Entry] = []
    seen: set[str] = set()
    offset = 0
    while True:
        header = data[offset : offset + BLOCK]
        if len(header) < BLOCK:
            raise BundleRejected("bundle is truncated (no end-of-archive marker)")
        if header == bytes(BLOCK):
            break
        entry, offset = _entry(data, header, offset)
        if entry.name in seen:
            raise BundleRejected(f"duplicate entry: {entry.name}")
        seen.add(entry.name)
        entries.append(entry)
        if len(entries) > MAX_ENTRIES:
            raise BundleRejected(f"more than {MAX_ENTRIES} entries")
    return entries


def _entry(data: bytes, header: bytes, offset: int) -> tuple[Entry, int]:
    if _field(header, _MAGIC) != MAGIC:
        raise BundleRejected(f"not a ustar archive (bad magic at offset {offset})")
    stored = _octal(header, _CHKSUM, offset)
    if stored != _checksum(header):
        raise BundleRejected(f"tar header checksum mismatch at offset {offset}")
    name = _name(header, offset)
    kind = header[_TYPEFLAG : _TYPEFLAG + 1]
    if kind not in _REGULAR:
        what = _TYPES.get(kind, f"of unsupported type {kind!r}")
        raise BundleRejected(f"entry {name!r} is {what}")
    check_path(name)
    size = _octal(header, _SIZE, offset)
    start = offset + BLOCK
    end = start + size
    if end > len(data):
        raise BundleRejected(f"bundle is truncated inside {name}")
    return Entry(name, data[start:end]), start + size + (-size % BLOCK)


def _header(name: str, size: int, mtime: int) -> bytes:
    prefix, short = _split(name)
    h = bytearray(BLOCK)
    _put(h, _NAME, short.encode())
    _put(h, _MODE, _itn(FILE_MODE, 8))
    _put(h, _UID, _itn(0, 8))
    _put(h, _GID, _itn(0, 8))
    _put(h, _SIZE, _itn(size, 12))
    _put(h, _MTIME, _itn(mtime, 12))
    h[_TYPEFLAG] = ord("0")
    _put(h, _MAGIC, MAGIC)
    # devmajor/devminor stay NUL for a regular file, as tarfile writes them.
    _put(h, _PREFIX, prefix.encode())
    # Checksum: six octal digits, NUL, space (what tar and tarfile write).
    _put(h, _CHKSUM, b"%06o\x00 " % _checksum(bytes(h)))
    return bytes(h)


def _split(name: str) -> tuple[str, str]:
    """Fit a name into ustar's name (100) and prefix (155), splitting at a slash."""
    raw = name.encode()
    if len(raw) <= 100:
        return "", name
    for cut in range(len(name) - 1, 0, -1):
        if name[cut] == "/" and len(name[cut + 1 :].encode()) <= 100 and cut <= 155:
            return name[:cut], name[cut + 1 :]
    raise BundleRejected(f"path too long for ustar: {name!r}")


def _name(header: bytes, offset: int) -> str:
    try:
        short = _field(header, _NAME).rstrip(b"\x00").decode("ascii")
        prefix = _field(header, _PREFIX).rstrip(b"\x00").decode("ascii")
    except UnicodeDecodeError:
        raise BundleRejected(f"entry name is not ASCII at offset {offset}") from None
    return f"{prefix}/{short}" if prefix else short


def _checksum(header: bytes) -> int:
    return sum(header[: _CHKSUM[0]]) + 8 * ord(" ") + sum(header[sum(_CHKSUM) :])


def _itn(value: int, width: int) -> bytes:
    text = b"%0*o" % (width - 1, value)
    if len(text) > width - 1:
        raise BundleRejected(f"value {value} does not fit a {width}-byte tar field")
    return text + b"\x00"


def _octal(header: bytes, field: tuple[int, int], offset: int) -> int:
    text = _field(header, field).rstrip(b"\x00 ").lstrip(b" ")
    if not text or not all(0x30 <= c <= 0x37 for c in text):
        raise BundleRejected(f"bad numeric field in tar header at offset {offset}")
    return int(text, 8)


def _field(header: bytes, field: tuple[int, int]) -> bytes:
    return header[field[0] : field[0] + field[1]]


def _put(header: bytearray, field: tuple[int, int], value: bytes) -> None:
    header[field[0] : field[0] + len(value)] = value
