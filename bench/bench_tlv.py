"""Issue 3: BER-TLV decode time per real card response, against pyemv and ber-tlv.

One corpus for all three decoders: tests/emv/data/card_responses.txt, SELECT /
GPO / READ RECORD / GET DATA responses from public card traces (sources in the
file). Each round decodes the whole corpus with each decoder in turn, so all
three share the same machine state; the figure is the best round's mean time
per response (best-of, because the noise on a shared machine only ever adds).

Target (issue 3): faster than the faster of pyemv.tlv.decode and ber_tlv's
parser, while also decoding 00 padding between objects (which pyemv rejects;
tests/emv/test_tlv_corpus.py checks both claims on the same corpus).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bench.common import Result, fmt_time
from emv import tlv

CORPUS_FILE = Path(__file__).resolve().parents[1] / "tests" / "emv" / "data" / "card_responses.txt"


def load_corpus(path: Path = CORPUS_FILE) -> list[tuple[str, bytes]]:
    """(label, response data) pairs; '#' lines are comments."""
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        label, _, hex_data = line.partition(":")
        out.append((label.strip(), bytes.fromhex(hex_data.strip())))
    return out


def _decoders() -> dict[str, Callable[[bytes], object]]:
    import pyemv.tlv
    from ber_tlv.tlv import Tlv as BerTlv

    return {
        "posterm": tlv.decode,
        "pyemv.tlv": pyemv.tlv.decode,
        "ber-tlv": BerTlv.parse,
    }


def measure(quick: bool) -> dict[str, float]:
    """Best-of-rounds mean seconds per response, per decoder, interleaved."""
    corpus = [data for _, data in load_corpus()]
    decoders = _decoders()
    rounds = 5 if quick else 25
    passes = {"posterm": 100, "pyemv.tlv": 100, "ber-tlv": 10}
    if quick:
        passes = {name: max(1, count // 5) for name, count in passes.items()}
    for decode in decoders.values():  # warm up; also proves each accepts the corpus
        for data in corpus:
            decode(data)
    best = dict.fromkeys(decoders, float("inf"))
    for _ in range(rounds):
        for name, decode in decoders.items():
            count = passes[name]
            start = time.perf_counter()
            for _ in range(count):
                for data in corpus:
                    decode(data)
            elapsed = (time.perf_counter() - start) / (count * len(corpus))
            best[name] = min(best[name], elapsed)
    return best


def run(quick: bool) -> list[Result]:
    times = measure(quick)
    ours = times["posterm"]
    peer_name = min(("pyemv.tlv", "ber-tlv"), key=lambda name: times[name])
    ratio = times[peer_name] / ours
    responses = len(load_corpus())
    return [
        Result(
            issue=3,
            name="TLV decode per card response",
            measured=f"{fmt_time(ours)} mean",
            target="faster than the faster peer",
            met=ours < times[peer_name],
            peer=f"pyemv.tlv: {fmt_time(times['pyemv.tlv'])}; "
            f"ber-tlv: {fmt_time(times['ber-tlv'])}",
            note=f"{ratio:.2f}x the speed of {peer_name}; {responses} real responses, "
            "best of interleaved rounds; also decodes 00 padding pyemv rejects",
        )
    ]
