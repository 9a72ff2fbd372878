"""troika's upload into Kubo against Kubo's own ``ipfs add`` CLI, side by side in one run.

The script starts a Kubo daemon of its own (``tests/_services.py``'s ``Kubo``: a
fresh repo from ``ipfs init --profile test``, isolated on loopback) and always
stops it. One file of random bytes (256 MiB by default) is written to a
temporary folder and read once before timing, so both sides read it from the
page cache. Then, for both import profiles, in interleaved rounds:

- ``troika``: ``KuboStore(api_url).add(path, profile=...)`` in this process (the
  API): troika reads the file once and streams it to Kubo's ``add`` with the
  profile's options, hashing each piece it sends with its own importer (a
  tee), compares the two roots and checks the pin with ``pin/ls``; with
  ``--no-verify``, ``add(..., verify=False)``: the same stream without troika's
  hashing, Kubo's root taken as it is (the work the CLI does), pin checked;
- ``kubo``: ``ipfs add -Q PATH`` against the same daemon (the CLI sends the
  file to the daemon, which chunks, hashes, stores and pins it), with Kubo's
  defaults for ``kubo-v0`` and ``--cid-version=1 --raw-leaves
  --chunker=size-1048576 --max-file-links=1024`` for ``v1-2025`` (the
  ``unixfs-v1-2025`` profile's settings for a file; ``ipfs add`` has no
  profile option).

Before every upload, untimed and alike for both sides, the previous root is
unpinned and ``ipfs repo gc`` removes its blocks (checked with ``block/stat``),
so every upload writes all its blocks anew. Round 0 is an untimed warm-up;
troika goes first in even rounds and last in odd ones. Each figure is the
median over the rounds.

How to read it: ``vs kubo`` is a speed ratio, ``kubo seconds / troika
seconds``: above 1 troika is faster, 0.80 means troika takes 25 % longer.
``rounds`` is the lowest and highest per-round ratio, a feel for the noise.
The CPU columns are the median CPU seconds of one upload, user + system: the
client's (this process for troika, the ``ipfs`` CLI process for Kubo) and the
daemon's (from /proc). ``same CID`` checks that both sides gave the same root.

Run: ``.venv/bin/python bench/ipfs_upload.py [--size-mib 256] [--rounds 9]
[--profiles kubo-v0,v1-2025] [--no-verify] [--json]``. With ``--json`` stdout is one JSON
line and the table goes to stderr. Kubo comes from ``$TROIKA_KUBO`` or
tools/kubo/build.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from troika.ipfs import KuboStore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests._services import Kubo  # noqa: E402

MiB = 1 << 20
PROFILES = {
    "kubo-v0": (),  # Kubo's defaults (= unixfs-v0-2015)
    "v1-2025": (
        "--cid-version=1",
        "--raw-leaves",
        "--chunker=size-1048576",
        "--max-file-links=1024",
    ),
}
SIDES = ("troika", "kubo")
ADD_TIMEOUT = 600.0  # seconds one `ipfs add` may take
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def write_random_file(path: Path, size: int) -> None:
    piece = 16 * MiB
    with path.open("wb") as out:
        left = size
        while left:
            out.write(os.urandom(min(piece, left)))
            left -= min(piece, left)
    with path.open("rb") as warm:  # into the page cache for both sides alike
        while warm.read(16 * MiB):
            pass


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Upload:
    seconds: float
    client_cpu: float
    daemon_cpu: float
    cid: str


@dataclass
class Row:
    profile: str
    uploads: dict[str, list[Upload]] = field(default_factory=dict)

    def median(self, side: str, what: str = "seconds") -> float:
        return statistics.median(getattr(upload, what) for upload in self.uploads[side])

    @property
    def speed(self) -> float:
        return self.median("kubo") / self.median("troika")

    @property
    def round_speeds(self) -> list[float]:
        pairs = zip(self.uploads["troika"], self.uploads["kubo"], strict=True)
        return [kubo.seconds / troika.seconds for troika, kubo in pairs]

    @property
    def cids(self) -> list[str]:
        return sorted({upload.cid for uploads in self.uploads.values() for upload in uploads})

    @property
    def same_cid(self) -> bool:
        return len(self.cids) == 1

    def as_json(self, size: int) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "median_s": {side: round(self.median(side), 4) for side in SIDES},
            "mib_s": {side: round(size / MiB / self.median(side), 1) for side in SIDES},
            "speed_vs_kubo": round(self.speed, 3),
            "round_speeds": [round(speed, 3) for speed in self.round_speeds],
            "client_cpu_s": {side: round(self.median(side, "client_cpu"), 3) for side in SIDES},
            "daemon_cpu_s": {side: round(self.median(side, "daemon_cpu"), 3) for side in SIDES},
            "cid": self.cids,
            "same_cid": self.same_cid,
        }


class Bench:
    """Both sides' uploads into one daemon, and the reset between them."""

    def __init__(self, kubo: Kubo, data: Path, *, verify: bool = True) -> None:
        self.kubo = kubo
        self.data = data
        self.verify = verify
        self.pinned: set[str] = set()

    def reset(self) -> None:
        """Unpin what the last uploads pinned and collect the garbage: an empty node."""
        for cid in sorted(self.pinned):
            self.kubo.cli("pin", "rm", cid)
        self.kubo.cli("repo", "gc", "--quiet")
        with KuboStore(self.kubo.api_url) as store:
            left = [cid for cid in self.pinned if store.has(cid)]
        if left:
            raise RuntimeError(f"repo gc left the roots {left} on the node")
        self.pinned.clear()

    def troika(self, profile: str) -> Callable[[], str]:
        def upload() -> str:
            with KuboStore(self.kubo.api_url) as store:
                return str(store.add(self.data, profile=profile, verify=self.verify))

        return upload

    def kubo_cli(self, profile: str) -> Callable[[], str]:
        command = [str(self.kubo.binary), "add", "-Q", *PROFILES[profile], str(self.data)]
        env = self.kubo.environment()  # IPFS_PATH: the CLI finds the daemon's API there

        def upload() -> str:
            done = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=ADD_TIMEOUT, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
            return done.stdout.strip()

        return upload

    def timed(self, side: str, run: Callable[[], str]) -> Upload:
        self.reset()
        daemon = self.kubo.pid
        assert daemon is not None
        daemon_before, own_before, children_before = (
            process_cpu(daemon),
            time.process_time(),
            children_cpu(),
        )
        start = time.perf_counter()
        cid = run()
        seconds = time.perf_counter() - start
        client = time.process_time() - own_before if side == "troika" else 0.0
        if side == "kubo":
            client = children_cpu() - children_before
        self.pinned.add(cid)
        return Upload(seconds, client, process_cpu(daemon) - daemon_before, cid)


def measure(bench: Bench, profiles: list[str], rounds: int) -> list[Row]:
    rows = {profile: Row(profile) for profile in profiles}
    for round_index in range(rounds + 1):  # round 0 warms both sides up, untimed
        for profile, row in rows.items():
            sides = {"troika": bench.troika(profile), "kubo": bench.kubo_cli(profile)}
            order = list(sides) if round_index % 2 == 0 else list(reversed(sides))
            for side in order:
                upload = bench.timed(side, sides[side])
                if round_index:
                    row.uploads.setdefault(side, []).append(upload)
            if round_index:
                speeds = row.round_speeds[-1]
                log(f"round {round_index}/{rounds} {profile}: kubo s / troika s = {speeds:.2f}")
        if not round_index:
            log("warm-up done")
    bench.reset()
    return list(rows.values())


def report(rows: list[Row], size: int, rounds: int, verify: bool) -> str:
    header = (
        f"{'profile':<8} {'troika s':>8} {'kubo s':>7} {'troika MiB/s':>12} {'kubo MiB/s':>10} "
        f"{'vs kubo':>7} {'rounds':>11} {'client cpu s':>13} {'daemon cpu s':>13}  same CID"
    )
    lines = [
        f"upload of a {size // MiB} MiB file (page-cached) into one Kubo daemon, stored and "
        f"pinned: median of {rounds} interleaved rounds",
        header,
        "-" * len(header),
    ]
    for row in rows:
        speeds = row.round_speeds
        spread = f"{min(speeds):.2f}-{max(speeds):.2f}"
        client = f"{row.median('troika', 'client_cpu'):.2f}/{row.median('kubo', 'client_cpu'):.2f}"
        daemon = f"{row.median('troika', 'daemon_cpu'):.2f}/{row.median('kubo', 'daemon_cpu'):.2f}"
        lines.append(
            f"{row.profile:<8} {row.median('troika'):>8.3f} {row.median('kubo'):>7.3f} "
            f"{size / MiB / row.median('troika'):>12.0f} {size / MiB / row.median('kubo'):>10.0f} "
            f"{row.speed:>6.2f}x {spread:>11} {client:>13} {daemon:>13}  "
            f"{'yes' if row.same_cid else '!! NO: ' + ' '.join(row.cids)}"
        )
    lines.append(
        "vs kubo = kubo s / troika s (above 1: troika faster); "
        f"troika = KuboStore.add(verify={verify}), "
        "kubo = `ipfs add -Q`; cpu = troika/kubo"
    )
    return "\n".join(lines)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value!r}")
    return number


def _profiles(value: str) -> list[str]:
    chosen = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in PROFILES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(PROFILES)}, got {value!r}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--size-mib", "--size", type=_positive, default=256, help="file size in MiB (256)"
    )
    parser.add_argument("--rounds", type=_positive, default=9, help="interleaved rounds (9)")
    parser.add_argument(
        "--profiles", type=_profiles, default=list(PROFILES), help="kubo-v0,v1-2025 (both)"
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="troika uploads with verify=False (no client-side hashing)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops Kubo

    started = time.perf_counter()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="troika-bench-") as scratch:
        work = Path(scratch)
        log(f"writing {args.size_mib} MiB of random bytes")
        data = work / "data.bin"
        write_random_file(data, size)
        kubo = Kubo(workdir=work / "kubo")
        try:
            kubo.start()
            kubo_version = kubo.cli("version", "--number")
            log(f"Kubo {kubo_version} at {kubo.api_url} (pid {kubo.pid})")
            rows = measure(Bench(kubo, data, verify=args.verify), args.profiles, args.rounds)
        finally:
            kubo.stop()
    elapsed = time.perf_counter() - started

    table = report(rows, size, args.rounds, args.verify)
    if args.json:
        log(table)
        line = {
            "benchmark": "ipfs_upload",
            "size_mib": args.size_mib,
            "rounds": args.rounds,
            "verify": args.verify,
            "elapsed_s": round(elapsed, 1),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "versions": {
                "troika-sdk": version("troika-sdk"),
                "httpx": version("httpx"),
                "kubo": kubo_version,
            },
            "uploads": [row.as_json(size) for row in rows],
        }
        print(json.dumps(line, separators=(",", ":")))
    else:
        print(table)
        print(f"({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
