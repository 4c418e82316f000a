"""The secure key store (keys.store): sealing, DUKPT durability, no leaks, crash safety."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from keys import aes_dukpt, dukpt, tr31
from keys.errors import DukptError, KeyStoreError, KeyUsageError, Tr31Error
from keys.store import (
    EnvRootSecret,
    FileRootSecret,
    KeyStore,
    MemoryBackend,
    default_store_path,
    open_dukpt_source,
)

KBPK = bytes.fromhex("1D22BF32387C600AD97F9B97A51311AC")
IKSN = bytes.fromhex("FFFF9876543210E00000")
ROOT = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"


def ipek_block(ipek: bytes) -> str:
    return tr31.wrap(KBPK, "B0000B1TX00N0000", ipek)


def make_store(tmp_path: Path) -> KeyStore:
    return KeyStore.open_file(
        default_store_path(tmp_path), EnvRootSecret(environ={"POSTERM_ROOT_SECRET": ROOT})
    )


def needles(secret: bytes) -> list[bytes]:
    """Every way a key could show up in text or bytes."""
    return [secret, secret.hex().encode(), secret.hex().upper().encode()]


def test_dukpt_slot_hands_out_x924_keys_in_order(tmp_path: Path) -> None:
    """Injected IPEK from X9.24-1:2009 A.4 gives the Annex A keys, one per call."""
    ipek = dukpt.derive_ipek(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), IKSN)
    store = make_store(tmp_path)
    info = store.inject_dukpt("dukpt", KBPK, ipek_block(ipek), IKSN)
    assert (info.kind, info.usage, info.ksn) == ("dukpt", "B1", "FFFF9876543210E00001")
    ksn, key = store.next_dukpt_key("dukpt")
    assert ksn == bytes.fromhex("FFFF9876543210E00001")
    assert key.hex().upper() == "042666B49184CFA368DE9628D0397BC9"
    again = make_store(tmp_path)  # a new process would see the advanced state
    keys2 = again.next_dukpt_keys("dukpt")
    assert keys2.ksn == bytes.fromhex("FFFF9876543210E00002")
    assert keys2.transaction_key.hex().upper() == "C46551CEF9FD24B0AA9AD834130D3BC7"
    assert keys2.pin_key() == dukpt.pin_variant(keys2.transaction_key)
    assert "C46551" not in repr(keys2).upper()
    assert again.slots()[0].ksn == "FFFF9876543210E00003"


def test_plain_keys_keep_their_usage(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    key = bytes(range(16))
    info = store.inject_tr31("pin", KBPK, tr31.wrap(KBPK, "B0000P0TE00N0000", key))
    assert info.usage == "P0" and info.kcv == tr31.TaggedKey(tr31.Header(), key).kcv
    tagged = store.get_key("pin")
    assert tagged.use(tr31.Purpose.PIN_ENCRYPTION) == key
    with pytest.raises(KeyUsageError):
        tagged.use(tr31.Purpose.MAC_GENERATION)
    with pytest.raises(KeyStoreError):
        store.next_dukpt_key("pin")
    with pytest.raises(KeyStoreError):
        store.get_key("missing")
    store.delete("pin")
    assert store.slots() == []


def test_no_key_bytes_in_file_repr_or_listing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Scan the store file, reprs, logs and captured output for every generated key."""
    caplog.set_level(logging.DEBUG)
    rng = random.Random(4)
    ipek = rng.randbytes(16)
    plain = rng.randbytes(16)
    store = make_store(tmp_path)
    store.inject_dukpt("dukpt", KBPK, ipek_block(ipek), IKSN)
    store.inject_tr31("mac", KBPK, tr31.wrap(KBPK, "B0000M3TC00N0000", plain))
    secrets = [ipek, plain, bytes.fromhex(ROOT)]
    state = dukpt.DukptOriginator.load_initial_key(ipek, IKSN)
    secrets += [r for r in state.registers if r is not None]
    for _ in range(5):
        _, key = store.next_dukpt_key("dukpt")
        secrets += [key, dukpt.pin_variant(key), dukpt.mac_request_variant(key)]
    blob = default_store_path(tmp_path).read_bytes()
    shown = " ".join(
        [
            repr(store),
            repr(store.slots()),
            repr(store.get_key("mac")),
            capsys.readouterr().out,
            caplog.text,
        ]
    ).encode()
    for secret in secrets:
        for needle in needles(secret):
            assert needle not in blob
            assert needle not in shown
    json.loads(blob)  # the file is plain JSON metadata + sealed blobs


def test_wrong_root_secret_and_tampering_are_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.inject_tr31("pin", KBPK, tr31.wrap(KBPK, "B0000P0TE00N0000", bytes(range(16))))
    other = KeyStore.open_file(
        default_store_path(tmp_path), EnvRootSecret(environ={"POSTERM_ROOT_SECRET": "11" * 32})
    )
    with pytest.raises(KeyStoreError, match="wrong root secret or tampered"):
        other.get_key("pin")
    path = default_store_path(tmp_path)
    doc = json.loads(path.read_bytes())
    doc["slots"]["pin"]["header"] = "B0000M3TC00N0000"  # relabel a PIN key as a MAC key
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyStoreError):
        store.get_key("pin")
    path.write_text("{not json")
    with pytest.raises(KeyStoreError):
        store.slots()


def test_root_secret_providers(tmp_path: Path) -> None:
    secret_file = tmp_path / "sub" / "root.secret"
    with pytest.raises(KeyStoreError):
        FileRootSecret(secret_file).root_secret()
    created = FileRootSecret(secret_file, create=True).root_secret()
    assert len(created) == 32
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert FileRootSecret(secret_file).root_secret() == created
    with pytest.raises(KeyStoreError):
        EnvRootSecret(environ={}).root_secret()
    with pytest.raises(KeyStoreError):
        EnvRootSecret(environ={"POSTERM_ROOT_SECRET": "abcd"}).root_secret()
    (tmp_path / "short").write_text("00")
    with pytest.raises(KeyStoreError):
        FileRootSecret(tmp_path / "short").root_secret()


def test_erase_all_overwrites_before_unlinking(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.inject_tr31("pin", KBPK, tr31.wrap(KBPK, "B0000P0TE00N0000", bytes(range(16))))
    path = default_store_path(tmp_path)
    witness = tmp_path / "witness"
    os.link(path, witness)  # a second name for the same inode shows what happened to it
    size = witness.stat().st_size
    store.erase_all()
    assert not path.exists()
    assert witness.read_bytes() == bytes(size)
    assert store.slots() == []


def test_crash_between_temp_write_and_rename_keeps_old_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ipek = bytes(range(16))
    store = make_store(tmp_path)
    store.inject_dukpt("dukpt", KBPK, ipek_block(ipek), IKSN)
    before = default_store_path(tmp_path).read_bytes()

    def crash(*_: object) -> None:
        raise OSError("simulated power loss")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.next_dukpt_key("dukpt")  # key must not be handed out when not persisted
    monkeypatch.undo()
    assert default_store_path(tmp_path).read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))
    ksn, _ = store.next_dukpt_key("dukpt")
    assert dukpt.ksn_counter(ksn) == 1


WRITER = textwrap.dedent(
    """
    import sys
    from keys.store import EnvRootSecret, KeyStore
    root = EnvRootSecret(environ={"POSTERM_ROOT_SECRET": sys.argv[2]})
    store = KeyStore.open_file(sys.argv[1], root)
    print("ready", flush=True)
    while True:
        ksn, key = store.next_dukpt_key("dukpt")
        print(ksn.hex(), flush=True)
    """
)


def test_kill_during_writes_never_corrupts_or_reuses(tmp_path: Path) -> None:
    """SIGKILL a process looping next_dukpt_key at random moments; the store reopens
    intact and its next KSN is beyond every KSN the dead process handed out."""
    ipek = bytes(range(16, 32))
    store = make_store(tmp_path)
    store.inject_dukpt("dukpt", KBPK, ipek_block(ipek), IKSN)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = random.Random(7)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    total = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(default_store_path(tmp_path)), ROOT],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.01, 0.25))
        proc.send_signal(signal.SIGKILL)
        handed_out = [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
        proc.wait(timeout=10)
        total += len(handed_out)
        info = make_store(tmp_path).slots()[0]  # reopens: valid JSON, opens with the secret
        assert info.ksn is not None
        next_counter = dukpt.ksn_counter(bytes.fromhex(info.ksn))
        if handed_out:
            assert next_counter > dukpt.ksn_counter(bytes.fromhex(handed_out[-1].decode()))
        ksn, key = make_store(tmp_path).next_dukpt_key("dukpt")
        assert key == dukpt.derive_transaction_key(ipek, ksn)
    assert total > 0  # the writers really were killed mid-stream


def test_aes_dukpt_slot(tmp_path: Path) -> None:
    kbpk = bytes(range(32))
    initial_key = bytes.fromhex("1273671EA26AC29AFA4D1084127652A1")
    block = tr31.wrap(kbpk, "D0000B1AX00N0000", initial_key)
    store = make_store(tmp_path)
    ksn0 = bytes.fromhex("123456789012345600000000")
    info = store.inject_dukpt("aes", kbpk, block, ksn0)
    assert info.kind == "aes_dukpt" and info.ksn == "123456789012345600000001"
    ksn, keys = store.next_aes_working_keys("aes", ("pin_encryption", "mac_generation"))
    assert ksn == bytes.fromhex("123456789012345600000001")
    assert keys["pin_encryption"].hex().upper() == "AF8CB133A78F8DC2D1359F18527593FB"
    assert keys["mac_generation"] == aes_dukpt.derive_working_key(
        initial_key, ksn, "mac_generation"
    )
    with pytest.raises(KeyStoreError):
        store.next_dukpt_keys("aes")


def test_injection_rules() -> None:
    store = KeyStore(MemoryBackend(), EnvRootSecret(environ={"POSTERM_ROOT_SECRET": ROOT}))
    with pytest.raises(KeyStoreError, match="B1"):
        store.inject_dukpt("d", KBPK, tr31.wrap(KBPK, "B0000P0TE00N0000", bytes(16)), IKSN)
    with pytest.raises(Tr31Error):
        store.inject_dukpt("d", bytes(16), ipek_block(bytes(range(16))), IKSN)
    with pytest.raises(DukptError):  # eleven 1-bits: a counter no device ever uses
        store.inject_dukpt(
            "d", KBPK, ipek_block(bytes(range(16))), dukpt.ksn_with_counter(IKSN, 0x7FF)
        )
    assert store.slots() == []
    mid = dukpt.ksn_with_counter(IKSN, 3)
    assert store.inject_dukpt("d", KBPK, ipek_block(bytes(range(16))), mid).ksn == mid.hex().upper()
    ksn, key = store.next_dukpt_key("d")
    assert ksn == mid and key == dukpt.derive_transaction_key(bytes(range(16)), mid)
    store.delete("d")
    assert store.slots() == []


def test_open_dukpt_source_for_the_terminal(tmp_path: Path) -> None:
    """The seam terminal.hostmsg.keysource calls: config.keys -> a KeySource."""

    class Paths:
        store_file = tmp_path / "keys.store"
        root_secret_file = tmp_path / "root.secret"

    class Config:
        keys = Paths()

    with pytest.raises(KeyStoreError):
        open_dukpt_source(Config())
    root_hex = FileRootSecret(Paths.root_secret_file, create=True).root_secret().hex()
    ipek = bytes(range(16))
    store = KeyStore.open_file(Paths.store_file, FileRootSecret(Paths.root_secret_file))
    store.inject_dukpt("dukpt", KBPK, ipek_block(ipek), IKSN)
    Paths.root_secret_file.write_text("22" * 32)
    with pytest.raises(KeyStoreError, match="wrong root secret"):
        open_dukpt_source(Config())
    Paths.root_secret_file.write_text(root_hex)
    source = open_dukpt_source(Config())
    first, second = source.next_session(), source.next_session()
    assert dukpt.ksn_counter(first.ksn) == 1 and dukpt.ksn_counter(second.ksn) == 2
    key = dukpt.derive_transaction_key(ipek, second.ksn)
    assert second.mac_request_key() == dukpt.mac_request_variant(key)
    assert second.mac_response_key() == dukpt.mac_response_variant(key)
    assert second.pin_key() == dukpt.pin_variant(key)


def test_concurrent_writers_never_share_a_ksn(tmp_path: Path) -> None:
    """Two processes drawing keys from one store at once: the flock serialises them, so
    no KSN (and no key) is handed out twice."""
    store = make_store(tmp_path)
    store.inject_dukpt("dukpt", KBPK, ipek_block(bytes(range(16))), IKSN)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(default_store_path(tmp_path)), ROOT],
            stdout=subprocess.PIPE,
            env=env,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    time.sleep(0.4)
    seen: list[bytes] = []
    for proc in procs:
        proc.send_signal(signal.SIGKILL)
        assert proc.stdout is not None
        seen += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
        proc.wait(timeout=10)
    assert len(seen) > 2
    assert len(seen) == len(set(seen))
