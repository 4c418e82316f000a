"""Firmware bundles end to end: build, verify, and every way a bundle must be refused.

Real files in tmp dirs; the CLI is driven through ``terminal.cli.main`` (and once as the
installed ``posterm`` process against this very checkout, the way a rig calls it).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminal.cli import main
from terminal.update import (
    BundleRejected,
    build_bundle,
    encode_bundle,
    signing,
    ustar,
    verify_bytes,
    verify_file,
)
from terminal.update.build import collect_payload
from terminal.update.errors import UpdateUsageError
from terminal.update.manifest import Manifest, PayloadFile
from tests.terminal.update_support import CREATED_AT, dev_key, fresh_key, make_source, write_pem

REPO = Path(__file__).parents[2]


@functools.cache
def small_bundle() -> bytes:
    """A dev-signed bundle of a tiny source tree (built once, in memory)."""
    with tempfile.TemporaryDirectory() as temp:
        payload = collect_payload(make_source(Path(temp)), "sim")
    data, _ = encode_bundle(
        payload, version="9.8.7", platform="sim", created_at=CREATED_AT, key=dev_key()
    )
    return data


def rejected(data: bytes, key: object = None) -> str:
    with pytest.raises(BundleRejected) as caught:
        verify_bytes(data, key)  # type: ignore[arg-type]
    return caught.value.reason


def entries_of(data: bytes) -> list[ustar.Entry]:
    return ustar.decode(data)


def offset_of(data: bytes, name: str) -> int:
    """Byte offset of ``name``'s content inside the archive."""
    offset = 0
    for entry in ustar.decode(data):
        if entry.name == name:
            return offset + ustar.BLOCK
        offset += ustar.BLOCK + len(entry.data) + (-len(entry.data) % ustar.BLOCK)
    raise AssertionError(name)


# -- the good path --------------------------------------------------------------------


def test_round_trip_small_tree(tmp_path: Path) -> None:
    root = make_source(tmp_path / "src")
    built = build_bundle(tmp_path / "out", "linux-aarch64", dev_key(), source_root=root)
    assert built.path == tmp_path / "out" / "posterm-9.8.7-linux-aarch64.ptb"
    verified = verify_file(built.path)
    assert verified.manifest == built.manifest
    assert verified.manifest.platform == "linux-aarch64"
    paths = [f.path for f in verified.manifest.files]
    assert "terminal/app.py" in paths and "setup.cfg" in paths
    assert not any(p.startswith("sim/") or "__pycache__" in p for p in paths)
    assert verified.files["terminal/app.py"] == (root / "terminal" / "app.py").read_bytes()
    for item in verified.manifest.files:
        assert hashlib.sha256((root / item.path).read_bytes()).hexdigest() == item.sha256


def test_sim_platform_carries_sim() -> None:
    verified = verify_bytes(small_bundle())
    assert "sim/card.py" in verified.files
    assert verified.manifest.version == "9.8.7"


def test_bundle_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same tree, key and creation time: the same bytes (Ed25519 is deterministic)."""
    root = make_source(tmp_path / "src")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(CREATED_AT))
    a = build_bundle(tmp_path / "a", "sim", dev_key(), source_root=root)
    b = build_bundle(tmp_path / "b", "sim", dev_key(), source_root=root)
    assert a.manifest.created_at == CREATED_AT
    assert a.path.read_bytes() == b.path.read_bytes()


def test_archive_lists_with_tarfile_and_holds_no_private_key() -> None:
    data = small_bundle()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        names = archive.getnames()
        assert all(m.isfile() and m.mode == 0o644 for m in archive.getmembers())
    assert names[:2] == ["manifest.json", "manifest.sig"]
    assert all(n.startswith("payload/") for n in names[2:])
    assert b"PRIVATE KEY" not in data


def test_manifest_fields() -> None:
    document = json.loads(entries_of(small_bundle())[0].data)
    assert document["format"] == "posterm-bundle" and document["format_version"] == 1
    assert document["product"] == "posterm"
    assert document["created_at"] == "2026-09-21T14:13:20Z"
    assert document["signing_key"] == signing.fingerprint(dev_key())
    assert [f["path"] for f in document["files"]] == sorted(f["path"] for f in document["files"])


# -- refusals -------------------------------------------------------------------------


def test_one_payload_byte_flipped_is_a_hash_mismatch() -> None:
    data = bytearray(small_bundle())
    data[offset_of(bytes(data), "payload/terminal/app.py") + 5] ^= 0x20
    assert rejected(bytes(data)) == "hash mismatch: terminal/app.py"


def test_manifest_byte_flipped_breaks_the_signature() -> None:
    data = bytearray(small_bundle())
    at = offset_of(bytes(data), "manifest.json")
    index = bytes(data).index(b"9.8.7", at)
    data[index] = ord("8")  # claim version 8.8.7
    assert rejected(bytes(data)).startswith("signature does not verify")


def test_wrong_key_is_refused_and_named() -> None:
    reason = rejected(small_bundle(), fresh_key())
    assert reason.startswith("signature does not verify (bundle names signing key ")


def _resign(entries: list[ustar.Entry], manifest: Manifest) -> bytes:
    """Re-sign a doctored manifest with the dev key (an attacker holding the key can
    do this; the point is that the payload checks still catch the mismatch)."""
    raw = manifest.encode()
    doctored = [
        ustar.Entry("manifest.json", raw),
        ustar.Entry("manifest.sig", signing.sign(dev_key(), raw)),
        *entries[2:],
    ]
    return ustar.encode(doctored, manifest.created_at)


def _manifest(data: bytes) -> Manifest:
    return verify_bytes(data).manifest


def test_extra_file_in_archive() -> None:
    data = small_bundle()
    entries = entries_of(data)
    extra = [*entries, ustar.Entry("payload/terminal/zz_backdoor.py", b"evil()\n")]
    assert rejected(ustar.encode(extra, CREATED_AT)) == "extra file: terminal/zz_backdoor.py"
    outside = [*entries, ustar.Entry("boot.sh", b"evil\n")]
    assert rejected(ustar.encode(outside, CREATED_AT)) == "extra file: boot.sh"


def test_missing_file_in_archive() -> None:
    data = small_bundle()
    entries = [e for e in entries_of(data) if e.name != "payload/terminal/app.py"]
    assert rejected(ustar.encode(entries, CREATED_AT)) == "missing file: terminal/app.py"


def test_signed_manifest_listing_a_wrong_size_or_hash() -> None:
    data = small_bundle()
    manifest, entries = _manifest(data), entries_of(data)
    files = list(manifest.files)
    i = next(n for n, f in enumerate(files) if f.path == "terminal/app.py")
    f = files[i]
    files[i] = PayloadFile(f.path, f.size + 1, f.sha256)
    wrong_size = _resign(entries, _replace_files(manifest, files))
    assert rejected(wrong_size) == "size mismatch: terminal/app.py"
    files[i] = PayloadFile(f.path, f.size, "0" * 64)
    assert rejected(_resign(entries, _replace_files(manifest, files))) == (
        "hash mismatch: terminal/app.py"
    )


def _replace_files(manifest: Manifest, files: list[PayloadFile]) -> Manifest:
    return Manifest(
        manifest.version, manifest.platform, manifest.created_at, manifest.signing_key,
        tuple(files),
    )  # fmt: skip


def _tarfile_copy(extra: tarfile.TarInfo | None = None) -> bytes:
    """The good bundle rewritten by the stdlib tarfile, plus one crafted entry."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for entry in entries_of(small_bundle()):
            info = tarfile.TarInfo(entry.name)
            info.size, info.mtime, info.mode = len(entry.data), CREATED_AT, 0o644
            archive.addfile(info, io.BytesIO(entry.data))
        if extra is not None:
            archive.addfile(extra, io.BytesIO(b"x") if extra.isfile() else None)
    return buf.getvalue()


def _tar_with(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mtime = kind, linkname, CREATED_AT
    info.size = 1 if kind == tarfile.REGTYPE else 0
    return _tarfile_copy(info)


def test_tarfile_copy_of_the_bundle_verifies() -> None:
    """Our canonical form is what tarfile writes in USTAR format: interoperable."""
    assert _tarfile_copy() == small_bundle()


@pytest.mark.parametrize(
    ("name", "kind", "linkname", "reason"),
    [
        ("../x", tarfile.REGTYPE, "", "unsafe path: '../x'"),
        ("payload/../../etc/passwd", tarfile.REGTYPE, "", "unsafe path"),
        ("/etc/passwd", tarfile.REGTYPE, "", "unsafe path: '/etc/passwd'"),
        ("payload/./x", tarfile.REGTYPE, "", "unsafe path"),
        ("payload/terminal/link", tarfile.SYMTYPE, "/etc/shadow", "is a symlink"),
        ("payload/terminal/hard", tarfile.LNKTYPE, "manifest.json", "is a hard link"),
        ("payload/dev/tty", tarfile.CHRTYPE, "", "is a character device"),
        ("payload/dev/sda", tarfile.BLKTYPE, "", "is a block device"),
        ("payload/fifo", tarfile.FIFOTYPE, "", "is a FIFO"),
        ("payload/dir", tarfile.DIRTYPE, "", "is a directory"),
    ],
)
def test_hostile_entries(name: str, kind: bytes, linkname: str, reason: str) -> None:
    assert reason in rejected(_tar_with(name, kind, linkname))


def test_signed_manifest_with_traversal_path_is_refused() -> None:
    """Even a correctly signed manifest may not name a path outside the release."""
    data = small_bundle()
    manifest = _manifest(data)
    evil = PayloadFile("../evil", 1, "0" * 64)
    raw = manifest.encode().replace(b'"files":[', b'"files":[' + _file_json(evil) + b",")
    entries = entries_of(data)
    doctored = [
        ustar.Entry("manifest.json", raw),
        ustar.Entry("manifest.sig", signing.sign(dev_key(), raw)),
        *entries[2:],
    ]
    assert rejected(ustar.encode(doctored, CREATED_AT)) == "unsafe path: '../evil'"


def _file_json(f: PayloadFile) -> bytes:
    return json.dumps(
        {"path": f.path, "sha256": f.sha256, "size": f.size}, separators=(",", ":")
    ).encode()


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda d: b"", "bundle is empty"),
        (lambda d: d[:1000], "truncated"),
        (lambda d: d[: len(d) // 2 // 512 * 512], "truncated"),
        (lambda d: b"\x00" * 10240, "manifest.json missing"),
        (lambda d: os.urandom(4096), "not a ustar archive"),
        (lambda d: b"PK\x03\x04" + bytes(508), "not a ustar archive"),
        (lambda d: d + bytes(512), "not in canonical form"),
        (lambda d: d[:-512] + b"\x01" + bytes(511), "not in canonical form"),
    ],
)
def test_truncated_or_garbage(mangle: object, reason: str) -> None:
    assert reason in rejected(mangle(small_bundle()))  # type: ignore[operator]


def test_reordered_payload_is_not_canonical() -> None:
    entries = entries_of(small_bundle())
    swapped = [*entries[:2], entries[3], entries[2], *entries[4:]]
    assert "not in canonical form" in rejected(ustar.encode(swapped, CREATED_AT))


def test_header_mtime_is_covered() -> None:
    """Header fields outside the manifest (here the mtime) still cannot change."""
    assert "not in canonical form" in rejected(
        ustar.encode(entries_of(small_bundle()), CREATED_AT + 1)
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_byte_flips_never_verify(data: st.DataObject) -> None:
    """Any change of one to four bytes anywhere in the file is refused, with a reason."""
    bundle = bytearray(small_bundle())
    where = st.lists(st.integers(0, len(bundle) - 1), min_size=1, max_size=4, unique=True)
    for index in data.draw(where):
        bundle[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(BundleRejected) as caught:
        verify_bytes(bytes(bundle))
    assert caught.value.reason and "\n" not in caught.value.reason


@pytest.mark.slow
def test_every_single_byte_of_a_minimal_bundle_matters(tmp_path: Path) -> None:
    """Exhaustive: flipping any one byte of the signed region (and a stride through the
    trailing record padding) of a one-file bundle is refused."""
    payload = [ustar.Entry("terminal/__init__.py", b'"""t."""\n')]
    data, _ = encode_bundle(
        payload, version="1.0", platform="sim", created_at=CREATED_AT, key=dev_key()
    )
    key = signing.pinned_public_key()
    assert verify_bytes(data, key).files == {"terminal/__init__.py": b'"""t."""\n'}
    body = 6 * ustar.BLOCK + 2 * ustar.BLOCK  # three headers + three contents + trailer
    positions = [*range(body), *range(body, len(data), 61)]
    for index in positions:
        for mask in (0x01, 0x80):
            flipped = bytearray(data)
            flipped[index] ^= mask
            with pytest.raises(BundleRejected):
                verify_bytes(bytes(flipped), key)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096), st.integers(0, 30_000))
def test_random_prefix_and_garbage_never_verify(garbage: bytes, cut: int) -> None:
    good = small_bundle()
    for candidate in (good[:cut] + garbage, garbage + good[cut:]):
        if candidate == good:
            continue
        with pytest.raises(BundleRejected):
            verify_bytes(candidate)


# -- the CLI (rig contract) -----------------------------------------------------------


def test_cli_round_trip_and_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_source(tmp_path / "src")
    out = tmp_path / "out"
    code = main(["bundle", "--platform", "sim", "--out", str(out), "--source", str(root),
                 "--created-at", "2026-01-02T03:04:05Z"])  # fmt: skip
    captured = capsys.readouterr()
    bundle = out / "posterm-9.8.7-sim.ptb"
    assert (code, captured.out.strip()) == (0, str(bundle))
    assert "DEVELOPMENT key" in captured.err
    assert main(["update", "verify", str(bundle)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("ok: posterm 9.8.7 for sim, ")
    assert "2026-01-02T03:04:05Z" in captured.out

    data = bytearray(bundle.read_bytes())
    data[offset_of(bytes(data), "payload/terminal/app.py")] ^= 1
    tampered = tmp_path / "tampered.ptb"
    tampered.write_bytes(bytes(data))
    assert main(["update", "verify", str(tampered)]) == 1
    err = capsys.readouterr().err
    assert err == "posterm update verify: rejected: hash mismatch: terminal/app.py\n"

    other = write_pem(fresh_key(), tmp_path / "other.pub", private=False)
    assert main(["update", "verify", str(bundle), "--pubkey", str(other)]) == 1
    assert "signature does not verify" in capsys.readouterr().err
    dev_pub = write_pem(dev_key(), tmp_path / "dev.pub", private=False)
    assert main(["update", "verify", str(bundle), "--pubkey", str(dev_pub)]) == 0
    capsys.readouterr()


def test_cli_signing_key_and_production_pin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A production key via $POSTERM_SIGNING_KEY: the pinned dev key refuses the bundle,
    --pubkey with the production key accepts it; the builder warns the pins differ."""
    root = make_source(tmp_path / "src")
    production = fresh_key()
    monkeypatch.setenv(
        "POSTERM_SIGNING_KEY", str(write_pem(production, tmp_path / "k", private=True))
    )
    assert (
        main(
            ["bundle", "--platform", "linux-armv7l", "--out", str(tmp_path), "--source", str(root)]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "DEVELOPMENT" not in captured.err and "pins a different update key" in captured.err
    bundle = captured.out.strip()
    assert main(["update", "verify", bundle]) == 1
    assert "signature does not verify" in capsys.readouterr().err
    pub = write_pem(production, tmp_path / "prod.pub", private=False)
    assert main(["update", "verify", bundle, "--pubkey", str(pub)]) == 0  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        ["bundle", "--platform", "linux-mips", "--out", "OUT"],
        ["bundle", "--out", "OUT"],
        ["bundle", "--platform", "sim", "--out", "OUT", "--created-at", "yesterday"],
        ["bundle", "--platform", "sim", "--out", "OUT", "--signing-key", "MISSING"],
        ["bundle", "--platform", "sim", "--out", "OUT", "--source", "MISSING"],
        ["update", "verify"],
        ["update", "verify", "B", "--pubkey", "MISSING"],
        ["update"],
    ],
)
def test_cli_usage_errors_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(tmp_path / a) if a in ("OUT", "MISSING", "B") else a for a in argv]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        code = int(stop.code or 0)
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda r: (r / "terminal" / "evil").symlink_to("/etc/passwd"), "symlink: terminal/evil"),
        (lambda r: (r / "emv" / "sub").symlink_to(r / "hal"), "symlink: emv/sub"),
        (lambda r: os.mkfifo(r / "keys" / "pipe"), "non-regular file: keys/pipe"),
        (lambda r: (r / "README.md").unlink() or (r / "README.md").symlink_to(r / "setup.cfg"),
         "README.md is not a regular file"),
        (lambda r: (r / "hal" / "a b.py").write_text(""), "name not allowed"),
        (lambda r: (r / "setup.cfg").write_text("[metadata]\nname = other\nversion = 1\n"),
         "not a posterm source tree"),
        (lambda r: (r / "setup.cfg").write_text("[metadata]\nname = posterm\nversion = v 1\n"),
         "version 'v 1'"),
        (lambda r: (r / "keys" / "__init__.py").unlink(), "has no package keys/"),
    ],
)  # fmt: skip
def test_source_trees_that_must_not_be_bundled(tmp_path: Path, spoil: object, message: str) -> None:
    root = make_source(tmp_path / "src")
    spoil(root)  # type: ignore[operator]
    with pytest.raises(UpdateUsageError, match=message):
        build_bundle(tmp_path / "out", "sim", dev_key(), source_root=root)
    assert not (tmp_path / "out").exists()


def test_cli_missing_bundle_is_a_rejection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["update", "verify", str(tmp_path / "nope.ptb")]) == 1
    assert capsys.readouterr().err.startswith("posterm update verify: rejected: cannot read")


def test_posterm_process_bundles_this_checkout(tmp_path: Path) -> None:
    """The rig's view: the real ``posterm`` process bundles this tree and verifies it."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(CREATED_AT)}
    env.pop("POSTERM_SIGNING_KEY", None)
    posterm = [sys.executable, "-m", "terminal"]
    made = subprocess.run(
        [*posterm, "bundle", "--platform", "linux-x86_64", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=env, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    bundle = Path(made.stdout.strip())
    assert bundle.name == "posterm-0.1.0-linux-x86_64.ptb"
    checked = subprocess.run(
        [*posterm, "update", "verify", str(bundle)],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    files = verify_file(bundle).files
    assert "terminal/update/verify.py" in files and "terminal/data/update_signing_pub.pem" in files
    assert not any(p.startswith(("sim/", "tests/")) for p in files)
