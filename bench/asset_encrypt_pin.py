"""Encrypt-and-pin of a private dataset against the plain pin of the same file, side by side.

One file of random bytes (1 GiB by default) is written to a temporary folder
and read once before timing, so every side reads it from the page cache. Then,
in interleaved rounds, each side pins it into a fresh ``LocalStore`` in the
same temporary folder (the previous store is removed first, untimed):

- ``plain``: ``troika.ipfs.add(path, store=LocalStore(...), profile=...)``, the
  file as it is;
- ``encrypted``: ``EncryptingReader(open(path, "rb"), key)`` (troika.assets'
  AES-256-GCM STREAM format, 1 MiB segments) pinned as it is read: through
  ``troika.ipfs.add(reader, store=...)`` when troika.ipfs takes a stream, else
  its ``import_stream(reader)`` blocks put into the store and the root pinned
  under ``gc_paused()``, as ``add`` does for a LocalStore. The plaintext's
  SHA-256 comes out of the same pass (``reader.sha256``);
- ``encrypt only``: the reader drained into one reused 1 MiB buffer, nothing
  stored: the cipher's share of the encrypted pin.

Stores are made with ``fsync=False`` by default (``--fsync`` turns it on for
both), so that the disk's flush time does not hide the CPU work compared;
``--dir /dev/shm`` puts the file and the stores on tmpfs, out of reach of the
disk's write-back, which is most of the noise on a shared machine.
Round 0 is an untimed warm-up; the order of the sides rotates each round; each
figure is the median over the rounds. ``vs plain`` is ``plain s / side s``:
1.00 is parity, 0.80 means the side takes 25 % longer than the plain pin.

Memory: the peak resident set (``ru_maxrss`` from ``wait4``) of a child process
that does one encrypt-and-pin of the file, beside a child that does the plain
pin and one that only imports troika (the interpreter's share). The budget for
encrypt-and-pin is 150 MB.

With ``--kubo`` the encrypted and plain pins also run against a Kubo daemon
(``KuboStore.add``) that the script starts (tests/_services.py's ``Kubo``) and
always stops, when troika.ipfs's KuboStore takes a stream.

Run: ``.venv/bin/python bench/asset_encrypt_pin.py [--size-mib 1024] [--rounds 3]
[--profile v1-2025] [--fsync] [--dir DIR] [--pin-via auto|add|blocks] [--kubo]
[--json]``. With ``--json`` stdout is one JSON line and the table goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any, BinaryIO, cast

from troika.assets._crypto import DEFAULT_SEGMENT_SIZE, EncryptingReader, new_content_key
from troika.ipfs import CID, LocalStore, add, import_stream
from troika.ipfs import _importer as importer

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20
MEMORY_BUDGET_MB = 150
SIDES = ("plain", "encrypted", "encrypt only")


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def takes_streams() -> bool:
    """Whether troika.ipfs.add takes a readable stream as its source (newer troika)."""
    return hasattr(importer, "ReadableStream")


#: How the encrypted side pins: "add" (troika.ipfs.add(reader)) or "blocks"
#: (import_stream + put + pin); main() sets it from --pin-via.
PIN_VIA = {"how": "add" if takes_streams() else "blocks"}


def write_random_file(path: Path, size: int) -> None:
    piece = 16 * MiB
    with path.open("wb") as out:
        left = size
        while left:
            out.write(os.urandom(min(piece, left)))
            left -= min(piece, left)
    with path.open("rb") as warm:  # into the page cache for every side alike
        while warm.read(16 * MiB):
            pass


# -- the work each side does (also run alone in a child for its peak memory) ----------


def pin_plain(data: Path, store_path: Path, profile: str, fsync: bool) -> str:
    return str(add(data, store=LocalStore(store_path, fsync=fsync), profile=profile))


def pin_encrypted(
    data: Path, store_path: Path, profile: str, fsync: bool, key: bytes
) -> tuple[str, str]:
    """Encrypt ``data`` as it is read and pin the ciphertext; (root CID, plaintext SHA-256)."""
    store = LocalStore(store_path, fsync=fsync)
    with data.open("rb") as source, EncryptingReader(source, key) as reader:
        if PIN_VIA["how"] == "add":
            root = add(reader, store=store, profile=profile)  # type: ignore[arg-type,unused-ignore]
        else:
            blocks = import_stream(cast(BinaryIO, reader), profile=profile)
            with store.gc_paused():
                while True:
                    try:
                        block = next(blocks)
                    except StopIteration as done:
                        root = cast(CID, done.value)
                        break
                    # What add() does for a LocalStore: the importer hashed each block.
                    store._store_verified(block.cid, bytes(block.data))
                store.pin(root)
        return str(root), reader.sha256


def encrypt_only(data: Path, key: bytes) -> str:
    buffer = memoryview(bytearray(DEFAULT_SEGMENT_SIZE))
    with data.open("rb") as source, EncryptingReader(source, key) as reader:
        while reader.readinto(buffer):
            pass
        return reader.sha256


# -- timing ---------------------------------------------------------------------------


def measure(
    data: Path, work: Path, profile: str, fsync: bool, rounds: int
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    key = new_content_key()
    store_path = work / "store"
    checks: dict[str, Any] = {}

    def fresh() -> None:
        shutil.rmtree(store_path, ignore_errors=True)

    def plain() -> None:
        checks["plain_cid"] = pin_plain(data, store_path, profile, fsync)

    def encrypted() -> None:
        checks["encrypted_cid"], checks["encrypted_sha256"] = pin_encrypted(
            data, store_path, profile, fsync, key
        )

    def cipher_only() -> None:
        checks["encrypt_only_sha256"] = encrypt_only(data, key)

    runs: dict[str, Callable[[], None]] = {
        "plain": plain,
        "encrypted": encrypted,
        "encrypt only": cipher_only,
    }
    times: dict[str, list[float]] = {side: [] for side in SIDES}
    for round_index in range(rounds + 1):  # round 0 warms every side up, untimed
        order = SIDES[round_index % 3 :] + SIDES[: round_index % 3]
        for side in order:
            fresh()
            start = time.perf_counter()
            runs[side]()
            seconds = time.perf_counter() - start
            if round_index:
                times[side].append(seconds)
        if round_index:
            line = ", ".join(f"{side} {times[side][-1]:.2f} s" for side in SIDES)
            log(f"round {round_index}/{rounds}: {line}")
        else:
            log("warm-up done")
    fresh()
    return times, checks


# -- peak memory, each in a child process ---------------------------------------------

# The child reads its own VmHWM: ru_maxrss from wait4 would also count the pages
# the child shared with this (larger) parent between fork and exec.
_CHILD = """
import re, sys
from pathlib import Path
sys.path.insert(0, {bench!r})
import asset_encrypt_pin as bench
from troika.assets._crypto import new_content_key
what, data, store, profile, fsync, how = sys.argv[1:7]
bench.PIN_VIA["how"] = how
if what == "plain":
    bench.pin_plain(Path(data), Path(store), profile, fsync == "1")
elif what == "encrypted":
    bench.pin_encrypted(Path(data), Path(store), profile, fsync == "1", new_content_key())
status = Path("/proc/self/status").read_text()
print(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
"""


def peak_rss_mb(command: list[str]) -> float:
    """Run ``command`` to its end; the peak resident set it reports (MB, 10^6 bytes)."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} exited with {done.returncode}: {done.stderr[-2000:]}")
    return int(done.stdout.strip()) * 1024 / 1e6


def memory(data: Path, work: Path, profile: str, fsync: bool) -> dict[str, float]:
    code = _CHILD.format(bench=str(Path(__file__).resolve().parent))
    peaks = {}
    for what in ("import only", "plain", "encrypted"):
        shutil.rmtree(work / "store", ignore_errors=True)
        command = [sys.executable, "-c", code, what, str(data), str(work / "store"), profile]
        peaks[what] = peak_rss_mb([*command, "1" if fsync else "0", PIN_VIA["how"]])
        log(f"peak RSS, {what}: {peaks[what]:.0f} MB")
    shutil.rmtree(work / "store", ignore_errors=True)
    return peaks


# -- against Kubo (once troika.ipfs takes streams) ---------------------------------------


def kubo_rounds(data: Path, work: Path, profile: str, rounds: int) -> dict[str, list[float]]:
    sys.path.insert(0, str(ROOT))
    from tests._services import Kubo

    from troika.ipfs import KuboStore

    key = new_content_key()
    kubo = Kubo(workdir=work / "kubo")
    times: dict[str, list[float]] = {"plain": [], "encrypted": []}
    try:
        kubo.start()
        log(f"Kubo {kubo.cli('version', '--number')} at {kubo.api_url}")
        pinned: list[str] = []
        for round_index in range(rounds + 1):
            order = ["plain", "encrypted"] if round_index % 2 == 0 else ["encrypted", "plain"]
            for side in order:
                for cid in pinned:
                    kubo.cli("pin", "rm", cid)
                kubo.cli("repo", "gc", "--quiet")
                pinned.clear()
                start = time.perf_counter()
                with KuboStore(kubo.api_url) as store:
                    if side == "plain":
                        root = store.add(data, profile=profile)
                    else:
                        with (
                            data.open("rb") as source,
                            EncryptingReader(source, key) as reader,
                        ):
                            root = store.add(reader, profile=profile)  # type: ignore[arg-type,unused-ignore]
                seconds = time.perf_counter() - start
                pinned.append(str(root))
                if round_index:
                    times[side].append(seconds)
            if round_index:
                log(
                    f"kubo round {round_index}/{rounds}: plain {times['plain'][-1]:.2f} s, "
                    f"encrypted {times['encrypted'][-1]:.2f} s"
                )
    finally:
        kubo.stop()
    return times


# -- the report -------------------------------------------------------------------------


def report(
    times: dict[str, list[float]],
    size: int,
    rounds: int,
    peaks: dict[str, float],
    kubo: dict[str, list[float]] | None,
    how: str,
) -> str:
    plain = statistics.median(times["plain"])
    header = f"{'side':<14} {'median s':>8} {'MiB/s':>6} {'vs plain':>8} {'rounds':>11}"
    lines = [
        f"pin of a {size // MiB} MiB file (page-cached) into a fresh LocalStore: "
        f"median of {rounds} interleaved rounds; encrypted = {how}",
        header,
        "-" * len(header),
    ]
    for side in SIDES:
        median = statistics.median(times[side])
        ratios = [p / s for p, s in zip(times["plain"], times[side], strict=True)]
        lines.append(
            f"{side:<14} {median:>8.2f} {size / MiB / median:>6.0f} {plain / median:>7.2f}x "
            f"{min(ratios):>5.2f}-{max(ratios):<5.2f}"
        )
    if kubo:
        kubo_plain = statistics.median(kubo["plain"])
        for side in ("plain", "encrypted"):
            median = statistics.median(kubo[side])
            lines.append(
                f"kubo {side:<9} {median:>8.2f} {size / MiB / median:>6.0f} "
                f"{kubo_plain / median:>7.2f}x"
            )
    lines.append("vs plain = plain s / side s (1.00: parity; below 1: slower than the plain pin)")
    lines.append(
        "peak RSS (child process): "
        + ", ".join(f"{what} {peak:.0f} MB" for what, peak in peaks.items())
        + f"; encrypted budget {MEMORY_BUDGET_MB} MB: "
        + ("within" if peaks["encrypted"] <= MEMORY_BUDGET_MB else "!! OVER")
    )
    return "\n".join(lines)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value!r}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mib", type=_positive, default=1024, help="file size (1024)")
    parser.add_argument("--rounds", type=_positive, default=3, help="interleaved rounds (3)")
    parser.add_argument("--profile", default="v1-2025", help="import profile (v1-2025)")
    parser.add_argument("--fsync", action="store_true", help="LocalStore(fsync=True)")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the file and stores go (the temp folder)"
    )
    parser.add_argument(
        "--pin-via",
        choices=("auto", "add", "blocks"),
        default="auto",
        help="encrypted side: ipfs.add(reader) or import_stream blocks (auto: add if it can)",
    )
    parser.add_argument("--kubo", action="store_true", help="also pin into a Kubo daemon")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` cleans up

    started = time.perf_counter()
    size = args.size_mib * MiB
    if args.pin_via == "add" and not takes_streams():
        parser.error("--pin-via add: this troika.ipfs.add takes no stream yet")
    if args.pin_via != "auto":
        PIN_VIA["how"] = args.pin_via
    how = {"add": "ipfs.add(EncryptingReader)", "blocks": "import_stream blocks"}[PIN_VIA["how"]]
    with tempfile.TemporaryDirectory(prefix="troika-bench-", dir=args.dir) as scratch:
        work = Path(scratch)
        log(f"writing {args.size_mib} MiB of random bytes")
        data = work / "data.bin"
        write_random_file(data, size)
        with data.open("rb") as source:
            expected_sha256 = hashlib.file_digest(source, "sha256").hexdigest()
        times, checks = measure(data, work, args.profile, args.fsync, args.rounds)
        if checks["encrypted_sha256"] != expected_sha256:
            raise RuntimeError("the reader's SHA-256 is not the file's")
        peaks = memory(data, work, args.profile, args.fsync)
        kubo = None
        if args.kubo:
            if takes_streams():
                kubo = kubo_rounds(data, work, args.profile, args.rounds)
            else:
                log("--kubo: this troika's KuboStore.add takes no stream yet; skipped")
    elapsed = time.perf_counter() - started

    table = report(times, size, args.rounds, peaks, kubo, how)
    if args.json:
        log(table)
        line = {
            "benchmark": "asset_encrypt_pin",
            "size_mib": args.size_mib,
            "rounds": args.rounds,
            "profile": args.profile,
            "fsync": args.fsync,
            "encrypted_pin": how,
            "elapsed_s": round(elapsed, 1),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "versions": {
                "troika-sdk": version("troika-sdk"),
                "cryptography": version("cryptography"),
            },
            "median_s": {side: round(statistics.median(times[side]), 3) for side in SIDES},
            "seconds": {side: [round(t, 3) for t in times[side]] for side in SIDES},
            "peak_rss_mb": {what: round(peak, 1) for what, peak in peaks.items()},
            "kubo_median_s": (
                {side: round(statistics.median(t), 3) for side, t in kubo.items()} if kubo else None
            ),
            "plain_cid": checks["plain_cid"],
            "sha256_in_one_pass": True,
        }
        print(json.dumps(line, separators=(",", ":")))
    else:
        print(table)
        print(f"({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
