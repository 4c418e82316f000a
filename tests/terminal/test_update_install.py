"""terminal.update.install and `posterm update apply|rollback|status`: real files in tmp dirs."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.update import BundleRejected, build_bundle, install
from terminal.update.errors import UpdateUsageError
from terminal.update.install import apply_bundle, firmware_root, read_link, rollback, version_key
from tests.terminal.update_support import CREATED_AT, dev_key, make_source

CONFIG = """
[terminal]
data_dir = "state"
country_code = "0826"
currency_code = "0826"
currency_exponent = 2
terminal_type = "22"
capabilities = "E0F8C8"

[devices]
contact_reader = "sim://visa"

[host]
url = "tcp://127.0.0.1:8583"

[[merchants]]
name = "Main store"
tid = "TERM0001"
mid = "MERCHANT0000001"
"""


def bundle(tmp_path: Path, version: str, platform: str = "sim", body: str = "") -> Path:
    root = make_source(tmp_path / f"src-{version}-{platform}", version=version)
    (root / "terminal" / "version_note.py").write_text(f"NOTE = {body or version!r}\n")
    out = tmp_path / f"out-{version}-{platform}-{len(body)}"
    return build_bundle(out, platform, dev_key(), source_root=root, created_at=CREATED_AT).path


def current_version(data_dir: Path, which: str = install.CURRENT) -> str | None:
    release = read_link(firmware_root(data_dir), which)
    return None if release is None else release.manifest.version


def test_apply_installs_the_verified_tree(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = apply_bundle(bundle(tmp_path, "1.0.0"), data_dir, platform="sim")
    tree = firmware_root(data_dir) / "current" / "tree"
    assert (tree / "terminal" / "version_note.py").read_text() == "NOTE = '1.0.0'\n"
    assert (tree / "sim" / "card.py").is_file()
    assert result.previous is None and not result.already_current
    assert os.readlink(firmware_root(data_dir) / "current") == f"releases/{result.current.name}"
    listed = {f.path for f in result.current.manifest.files}
    on_disk = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
    assert on_disk == listed
    assert (result.current.path / "manifest.sig").stat().st_size == 64


def test_upgrade_rollback_and_downgrade_rule(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    v1, v2 = bundle(tmp_path, "1.0.0"), bundle(tmp_path, "1.1.0")
    apply_bundle(v1, data_dir, platform="sim")
    apply_bundle(v2, data_dir, platform="sim")
    assert (current_version(data_dir), current_version(data_dir, "previous")) == ("1.1.0", "1.0.0")
    with pytest.raises(BundleRejected, match=r"downgrade refused: bundle 1\.0\.0 is older"):
        apply_bundle(v1, data_dir, platform="sim")
    assert current_version(data_dir) == "1.1.0"
    rollback(data_dir)
    assert (current_version(data_dir), current_version(data_dir, "previous")) == ("1.0.0", "1.1.0")
    rollback(data_dir)
    assert current_version(data_dir) == "1.1.0"
    apply_bundle(v1, data_dir, platform="sim", allow_downgrade=True)
    assert (current_version(data_dir), current_version(data_dir, "previous")) == ("1.0.0", "1.1.0")


def test_same_bundle_twice_is_a_no_op(tmp_path: Path) -> None:
    data_dir, b = tmp_path / "data", bundle(tmp_path, "2.0")
    first = apply_bundle(b, data_dir, platform="sim")
    again = apply_bundle(b, data_dir, platform="sim")
    assert again.already_current and again.current.name == first.current.name


def test_only_current_and_previous_are_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for version in ("1.0", "1.1", "1.2"):
        apply_bundle(bundle(tmp_path, version), data_dir, platform="sim")
    (firmware_root(data_dir) / "releases" / ".staging-crashed").mkdir()
    apply_bundle(bundle(tmp_path, "1.3"), data_dir, platform="sim")
    kept = sorted(p.name.split("-")[0] for p in (firmware_root(data_dir) / "releases").iterdir())
    assert kept == ["1.2", "1.3"]


def test_refused_bundles_change_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    apply_bundle(bundle(tmp_path, "1.0"), data_dir, platform="sim")
    before = sorted(p.as_posix() for p in firmware_root(data_dir).rglob("*"))
    with pytest.raises(BundleRejected, match="platform linux-aarch64, this terminal is sim"):
        apply_bundle(bundle(tmp_path, "2.0", "linux-aarch64"), data_dir, platform="sim")
    tampered = bundle(tmp_path, "3.0")
    data = bytearray(tampered.read_bytes())
    data[data.index(b"NOTE = '3.0'")] ^= 0x01
    tampered.write_bytes(bytes(data))
    with pytest.raises(BundleRejected, match=r"hash mismatch: terminal/version_note\.py"):
        apply_bundle(tampered, data_dir, platform="sim")
    assert sorted(p.as_posix() for p in firmware_root(data_dir).rglob("*")) == before


def test_crash_while_staging_leaves_current_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure half-way through unpacking (power cut, full flash) never touches current."""
    data_dir = tmp_path / "data"
    apply_bundle(bundle(tmp_path, "1.0"), data_dir, platform="sim")
    real_write, calls = install._write, []

    def failing_write(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(install, "_write", failing_write)
    with pytest.raises(OSError):
        apply_bundle(bundle(tmp_path, "2.0"), data_dir, platform="sim")
    assert current_version(data_dir) == "1.0"
    assert [p.name for p in (firmware_root(data_dir) / "releases").iterdir()] == [
        read_link(firmware_root(data_dir), "current").name  # type: ignore[union-attr]
    ]


def test_crash_between_previous_and_current_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the process dies after moving ``previous`` but before ``current``, the terminal
    still boots the old release, and the next apply completes the switch."""
    data_dir = tmp_path / "data"
    apply_bundle(bundle(tmp_path, "1.0"), data_dir, platform="sim")
    real_point = install._point

    def dying_point(root: Path, which: str, name: str) -> None:
        if which == install.CURRENT:
            raise KeyboardInterrupt  # stands in for SIGKILL between the two renames
        real_point(root, which, name)

    monkeypatch.setattr(install, "_point", dying_point)
    v2 = bundle(tmp_path, "2.0")
    with pytest.raises(KeyboardInterrupt):
        apply_bundle(v2, data_dir, platform="sim")
    assert current_version(data_dir) == "1.0"
    monkeypatch.setattr(install, "_point", real_point)
    apply_bundle(v2, data_dir, platform="sim")
    assert (current_version(data_dir), current_version(data_dir, "previous")) == ("2.0", "1.0")


def test_rollback_needs_a_previous(tmp_path: Path) -> None:
    with pytest.raises(UpdateUsageError, match="nothing to roll back to"):
        rollback(tmp_path)
    apply_bundle(bundle(tmp_path, "1.0"), tmp_path, platform="sim")
    with pytest.raises(UpdateUsageError, match="no previous release"):
        rollback(tmp_path)


@pytest.mark.parametrize(
    ("older", "newer"),
    [("1.0", "1.1"), ("1.9", "1.10"), ("1.0rc1", "1.0"), ("0.9.9", "1.0"), ("1.0", "1.0.1")],
)
def test_version_order(older: str, newer: str) -> None:
    assert version_key(older) < version_key(newer)


def test_cli_apply_status_rollback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "posterm.toml"
    config.write_text(CONFIG)
    v1, v2 = bundle(tmp_path, "1.0"), bundle(tmp_path, "2.0")
    base = ["--config", str(config)]
    assert main(["update", "status", *base]) == 0
    assert json.loads(capsys.readouterr().out) == {"current": None, "previous": None}
    assert main(["update", "apply", str(v1), *base, "--platform", "sim"]) == 0
    assert json.loads(capsys.readouterr().out)["current"]["version"] == "1.0"
    assert main(["update", "apply", str(v2), *base, "--platform", "sim"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["current"]["version"], document["previous"]["version"]) == ("2.0", "1.0")
    assert Path(document["current"]["path"]).is_relative_to(tmp_path / "state" / "firmware")
    assert main(["update", "apply", str(v1), *base, "--platform", "sim"]) == 1
    assert "downgrade refused" in capsys.readouterr().err
    assert main(["update", "rollback", *base]) == 0
    assert json.loads(capsys.readouterr().out)["current"]["version"] == "1.0"
    assert main(["update", "status", *base]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["current"]["version"], status["previous"]["version"]) == ("1.0", "2.0")


def test_cli_apply_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "posterm.toml"
    config.write_text(CONFIG)
    b = str(bundle(tmp_path, "1.0"))
    assert main(["update", "apply", b, "--config", str(tmp_path / "none.toml")]) == 2
    assert main(["update", "apply", b, "--config", str(config), "--pubkey", "/nonexistent"]) == 2
    assert main(["update", "rollback", "--config", str(config)]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda r: (r / "tree" / "terminal" / "app.py").write_text("evil()\n"), "size mismatch"),
        (lambda r: (r / "tree" / "terminal" / "app.py").unlink(), "missing file: terminal/app.py"),
        (lambda r: (r / "tree" / "terminal" / "boot.py").write_text(""), "extra file"),
        (lambda r: (r / "tree" / "emv" / "l").symlink_to("/etc"), "not a regular file: emv/l"),
        (lambda r: (r / "manifest.json").write_text("{}\n"), "signature does not verify"),
        (lambda r: (r / "manifest.sig").unlink(), "No such file"),
    ],
)
def test_check_finds_a_damaged_installed_release(
    tmp_path: Path, spoil: object, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "posterm.toml"
    config.write_text(CONFIG)
    release = apply_bundle(bundle(tmp_path, "1.0"), tmp_path / "state", platform="sim").current
    assert install.check_release(release.path).manifest.version == "1.0"
    assert main(["update", "check", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: release {release.name} intact")
    spoil(release.path)  # type: ignore[operator]
    with pytest.raises(BundleRejected, match=reason):
        install.check_release(release.path)
    assert main(["update", "check", "--config", str(config)]) == 1
    assert reason in capsys.readouterr().err


def test_check_with_nothing_installed_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "posterm.toml"
    config.write_text(CONFIG)
    assert main(["update", "check", "--config", str(config)]) == 1
    assert "no release installed" in capsys.readouterr().err


def test_reapplying_a_damaged_current_repairs_it(tmp_path: Path) -> None:
    data_dir, v1 = tmp_path / "data", bundle(tmp_path, "1.0")
    first = apply_bundle(v1, data_dir, platform="sim").current
    assert apply_bundle(v1, data_dir, platform="sim").already_current
    (first.path / "tree" / "terminal" / "app.py").write_text("evil()\n")
    repaired = apply_bundle(v1, data_dir, platform="sim")
    assert not repaired.already_current and repaired.current.name != first.name
    install.check_release(repaired.current.path)
    assert repaired.current.name.startswith(first.name)
    assert apply_bundle(v1, data_dir, platform="sim").already_current


def test_reapplying_over_a_damaged_copy_unpacks_afresh(tmp_path: Path) -> None:
    data_dir, v1 = tmp_path / "data", bundle(tmp_path, "1.0")
    old = apply_bundle(v1, data_dir, platform="sim").current
    apply_bundle(bundle(tmp_path, "2.0"), data_dir, platform="sim")
    (old.path / "tree" / "terminal" / "app.py").write_text("evil()\n")
    again = apply_bundle(v1, data_dir, platform="sim", allow_downgrade=True).current
    assert again.name.startswith(old.name) and again.name != old.name
    install.check_release(again.path)
    assert not old.path.exists()  # the damaged copy was pruned


def _apply_and_die_at(step: int, bundle_path: Path, data_dir: Path) -> None:
    """Child process: apply, SIGKILLing itself at the ``step``-th durable step."""
    count = 0

    def counted(function):  # type: ignore[no-untyped-def]
        def wrapper(*args):  # type: ignore[no-untyped-def]
            nonlocal count
            count += 1
            if count == step:
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args)

        return wrapper

    for name in ("_write", "_fsync_dir", "_point"):
        setattr(install, name, counted(getattr(install, name)))
    apply_bundle(bundle_path, data_dir, platform="sim")
    os._exit(0)


@pytest.mark.slow
def test_sigkill_at_every_durable_step_of_apply(tmp_path: Path) -> None:
    """A process applying 2.0 over 1.0 is SIGKILLed at each file write, directory fsync
    and symlink switch in turn (each time on a fresh copy of the 1.0 terminal). After
    every kill ``current`` is 1.0 or 2.0 and checks intact on disk, ``previous`` is
    never broken, and applying again completes and leaves no staging residue."""
    baseline = tmp_path / "baseline"
    apply_bundle(bundle(tmp_path, "1.0"), baseline, platform="sim")
    new = bundle(tmp_path, "2.0")
    context = multiprocessing.get_context("fork")
    outcomes = []
    for step in range(1, 200):
        data_dir = tmp_path / f"t{step}"
        shutil.copytree(baseline, data_dir, symlinks=True)
        child = context.Process(target=_apply_and_die_at, args=(step, new, data_dir))
        child.start()
        child.join(timeout=60)
        root = firmware_root(data_dir)
        path = install.link_target(root, install.CURRENT)
        assert path is not None
        version = install.check_release(path).manifest.version
        previous = install.link_target(root, install.PREVIOUS)
        if previous is not None:
            install.check_release(previous)
        staged = any(p.name.startswith(".staging-") for p in (root / "releases").iterdir())
        outcomes.append((version, staged))
        apply_bundle(new, data_dir, platform="sim")
        assert read_link(root, install.CURRENT).manifest.version == "2.0"  # type: ignore[union-attr]
        assert not any(p.name.startswith(".staging-") for p in (root / "releases").iterdir())
        if child.exitcode == 0:  # the step count ran past the last durable step
            break
        assert child.exitcode == -signal.SIGKILL
    assert outcomes[-1] == ("2.0", False)
    assert ("1.0", True) in outcomes  # killed mid-unpack
    assert ("1.0", False) in outcomes  # killed after the rename, before the switch
