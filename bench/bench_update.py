"""Firmware bundles: build and verify the real tree (terminal.update).

The issue sets no target; the figures say what a rig or a handset pays per update.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import Result, fmt_time, median_seconds
from terminal.update import build_bundle, verify_bytes
from terminal.update.build import default_source_root
from terminal.update.signing import pinned_public_key, resolve_signing_key

ISSUE = 8


def run(quick: bool) -> list[Result]:
    root = default_source_root()
    key, _ = resolve_signing_key(None, [root])
    repeat = 3 if quick else 15
    with tempfile.TemporaryDirectory() as temp:
        out = Path(temp)
        built = build_bundle(out, "linux-aarch64", key, created_at=int(time.time()))
        build = median_seconds(
            lambda: build_bundle(out, "linux-aarch64", key), repeat=repeat, warmup=1
        )
        data = built.path.read_bytes()
    pinned = pinned_public_key()
    verify = median_seconds(lambda: verify_bytes(data, pinned), repeat=repeat * 2, warmup=2)
    size = f"{len(data) / 1e6:.2f} MB, {len(built.manifest.files)} files"
    return [
        Result(ISSUE, "bundle build (linux-aarch64, this tree)", f"{fmt_time(build)} median",
               "", None, note=size),
        Result(ISSUE, "bundle verify (Ed25519 + SHA-256 + canonical check)",
               f"{fmt_time(verify)} median", "", None, note=size),
    ]  # fmt: skip
