"""terminal.update.ustar and .manifest: the two codecs of a bundle, by property and by case."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.update import manifest as codec
from terminal.update import ustar
from terminal.update.errors import BundleRejected
from terminal.update.manifest import Manifest, PayloadFile

COMPONENT = st.text("abcXYZ019_.-", min_size=1, max_size=30).filter(lambda c: c not in {".", ".."})
PATH = st.lists(COMPONENT, min_size=1, max_size=6).map("/".join).filter(lambda p: len(p) <= 250)


@st.composite
def archives(draw: st.DrawFn) -> list[ustar.Entry]:
    names = draw(st.lists(PATH, max_size=6, unique=True))
    return [ustar.Entry(n, draw(st.binary(max_size=1500))) for n in names]


@settings(max_examples=150, deadline=None)
@given(archives(), st.integers(0, 8**11 - 1))
def test_ustar_round_trip_and_tarfile_agrees(entries: list[ustar.Entry], mtime: int) -> None:
    """decode(encode(x)) == x, and the stdlib reads the same files back (pax ustar)."""
    data = ustar.encode(entries, mtime)
    assert len(data) % ustar.RECORD == 0
    assert ustar.decode(data) == entries
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        got = [(m.name, m.mtime, archive.extractfile(m).read()) for m in archive]  # type: ignore[union-attr]
    assert got == [(e.name, mtime, e.data) for e in entries]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_ustar_decode_never_crashes(data: bytes) -> None:
    try:
        ustar.decode(data)
    except BundleRejected as error:
        assert error.reason


@pytest.mark.parametrize(
    "name",
    ["", "/abs", "../up", "a/../b", "a//b", "./a", "a/.", "back\\slash", "sp ace", "nul\x00",
     "ü", "a/" * 130 + "b"],
)  # fmt: skip
def test_unsafe_paths(name: str) -> None:
    with pytest.raises(BundleRejected, match="unsafe path"):
        ustar.check_path(name)


def test_long_name_uses_the_prefix_field() -> None:
    name = "d" * 120 + "/" + "f" * 90
    data = ustar.encode([ustar.Entry(name, b"1")], 0)
    assert data[345 : 345 + 120] == b"d" * 120  # prefix field, pax ustar
    assert ustar.decode(data) == [ustar.Entry(name, b"1")]
    with pytest.raises(BundleRejected, match="too long"):
        ustar.encode([ustar.Entry("d" * 200 + "/f", b"")], 0)


def test_header_checksum_and_magic_are_checked() -> None:
    data = bytearray(ustar.encode([ustar.Entry("a", b"1")], 0))
    data[0] = ord("b")  # name changes, checksum does not
    with pytest.raises(BundleRejected, match="checksum mismatch at offset 0"):
        ustar.decode(bytes(data))
    data[0] = ord("a")
    data[257] = ord("U")
    with pytest.raises(BundleRejected, match="bad magic"):
        ustar.decode(bytes(data))


def _manifest(**overrides: object) -> Manifest:
    fields: dict[str, object] = {
        "version": "1.2.3",
        "platform": "linux-aarch64",
        "created_at": 1_790_000_000,
        "signing_key": "ab" * 32,
        "files": (PayloadFile("a.py", 3, "00" * 32), PayloadFile("b/c.py", 0, "11" * 32)),
    }
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


@settings(max_examples=150)
@given(
    st.lists(PATH, min_size=1, max_size=8, unique=True),
    st.sampled_from(sorted(codec.PLATFORMS)),
    st.integers(0, 4_000_000_000),
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){0,3}(rc[0-9])?\Z"),
)
def test_manifest_round_trip(paths: list[str], platform: str, when: int, version: str) -> None:
    files = tuple(PayloadFile(p, len(p), f"{len(p):064x}") for p in sorted(paths))
    m = _manifest(files=files, platform=platform, created_at=when, version=version)
    assert codec.decode(m.encode()) == m


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_manifest_decode_never_crashes(raw: bytes) -> None:
    try:
        codec.decode(raw)
    except BundleRejected as error:
        assert error.reason.startswith(("manifest malformed", "unsupported", "bundle is for"))


def _edited(edit: object) -> bytes:
    document = json.loads(_manifest().encode())
    edit(document)  # type: ignore[operator]
    return codec.canonical_json(document)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d.pop("platform"), "manifest malformed: missing ['platform']"),
        (lambda d: d.update(extra=1), "manifest malformed: unknown keys ['extra']"),
        (lambda d: d.update(format="zip"), "format is not"),
        (lambda d: d.update(format_version=2), "unsupported bundle format version 2"),
        (lambda d: d.update(format_version=True), "unsupported bundle format version True"),
        (lambda d: d.update(product="other"), "bundle is for product 'other'"),
        (lambda d: d.update(platform="linux-mips"), "unknown platform 'linux-mips'"),
        (lambda d: d.update(version="1.0 beta"), "version '1.0 beta'"),
        (lambda d: d.update(created_at="2026-01-01"), "created_at"),
        (lambda d: d.update(signing_key="AB" * 32), "signing_key"),
        (lambda d: d.update(files=[]), "files is not a non-empty list"),
        (lambda d: d["files"].reverse(), "files not sorted"),
        (lambda d: d["files"].append(d["files"][-1]), "files not sorted or duplicated"),
        (lambda d: d["files"][0].update(size=-1), "size of a.py"),
        (lambda d: d["files"][0].update(size=1.5), "size of a.py"),
        (lambda d: d["files"][0].update(sha256="x"), "sha256 of a.py"),
        (lambda d: d["files"][0].pop("sha256"), "not {path, size, sha256}"),
        (lambda d: d["files"][0].update(path="../a"), "unsafe path"),
        (lambda d: d["files"][0].update(path=7), "path is not a string"),
    ],
)
def test_manifest_rules(edit: object, reason: str) -> None:
    with pytest.raises(BundleRejected) as caught:
        codec.decode(_edited(edit))
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff", "not JSON"),
        (b"[1]\n", "not a JSON object"),
        (b'{"a":1,"a":2}\n', "duplicate key"),
        (b" " + _manifest().encode(), "not in canonical form"),
        (_manifest().encode().rstrip(b"\n"), "not in canonical form"),
        (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
        (b" " * (codec.MAX_MANIFEST + 1), "larger than 1 MiB"),
    ],
)
def test_manifest_bytes_rules(raw: bytes, reason: str) -> None:
    with pytest.raises(BundleRejected, match=reason):
        codec.decode(raw)
