"""troika's CID computation against Kubo and sha256sum, side by side in one run.

Throughput: the CID of one file of random bytes (512 MiB by default, written to
a temporary folder and read once before timing, so every side reads it from
the page cache), for both import profiles:

- ``troika``: ``troika.ipfs.cid_of(path, profile=...)`` in this process (the API);
- ``troika-cli``: ``troika ipfs cid PATH --profile ...``, a new Python process
  each time (interpreter start and imports included), the fair peer of a CLI;
- ``kubo``: ``ipfs add --only-hash -Q PATH`` on a repo that no daemon uses (the
  CLI then imports in its own process) initialised with ``--profile test`` (Kubo's
  default Import settings) or ``--profile test,unixfs-v1-2025``;
- ``sha256sum``: coreutils hashing the file once, the cost of reading and
  hashing every byte (the same for both profiles; the issue's "hashing limit");
- ``hashlib``: the same read-and-hash loop in this process with the OpenSSL
  SHA-256 that troika uses (``readinto`` one reused 1 MiB buffer), the true
  limit on a machine whose coreutils lacks the CPU's SHA instructions.

The sides run in interleaved rounds (troika first in even rounds, last in odd
ones) and each figure is the median over the rounds. The ratios are speed
ratios, ``peer seconds / troika seconds``: above 1 troika is faster. The CIDs
of troika and Kubo must be equal (``same CID``), or the row is flagged.

Memory: the peak resident set (``ru_maxrss`` of the child, from ``wait4``) of a
child process that computes the CID of a 2 GiB file, beside a child that only
imports ``troika.ipfs`` (the interpreter's own share) and Kubo doing the same.

Run: ``.venv/bin/python bench/ipfs_cid.py [--size-mib 512] [--memory-size-mib
2048] [--rounds 5] [--json]``. With ``--json`` stdout is one JSON line and the
table goes to stderr. Kubo comes from ``$TROIKA_KUBO`` or tools/kubo/build.sh.
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
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from troika.ipfs import cid_of

ROOT = Path(__file__).resolve().parents[1]
PROFILES = {"kubo-v0": ("test",), "v1-2025": ("test", "unixfs-v1-2025")}
MiB = 1 << 20


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def kubo_binary() -> Path:
    configured = os.environ.get("TROIKA_KUBO")
    if configured:
        return Path(configured)
    built = subprocess.run(
        ["bash", str(ROOT / "tools/kubo/build.sh")],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return Path(built.stdout.strip().splitlines()[-1])


def kubo_env(repo: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("IPFS_")}
    env.update(IPFS_PATH=str(repo), IPFS_TELEMETRY="off")
    return env


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


@dataclass
class Row:
    profile: str
    times: dict[str, list[float]] = field(default_factory=dict)
    cids: dict[str, set[str]] = field(default_factory=dict)

    def median(self, side: str) -> float:
        return statistics.median(self.times[side])

    def speed(self, peer: str) -> float:
        return self.median(peer) / self.median("troika")

    @property
    def same_cid(self) -> bool:
        found = {cid for cids in self.cids.values() for cid in cids}
        return len(found) == 1

    def as_json(self, size: int) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "median_s": {side: round(self.median(side), 4) for side in self.times},
            "troika_mib_s": round(size / MiB / self.median("troika"), 1),
            "speed_vs": {
                peer: round(self.speed(peer), 3)
                for peer in self.times
                if peer not in ("troika", "troika-cli")
            },
            "cli_speed_vs_kubo": round(self.median("kubo") / self.median("troika-cli"), 3),
            "cid": sorted({cid for cids in self.cids.values() for cid in cids}),
            "same_cid": self.same_cid,
        }


def time_it(run: Callable[[], str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def throughput(ipfs: Path, repos: dict[str, Path], data: Path, rounds: int) -> list[Row]:
    def troika(profile: str) -> Callable[[], str]:
        return lambda: str(cid_of(data, profile=profile))

    def troika_cli(profile: str) -> Callable[[], str]:
        command = [sys.executable, "-m", "troika.cli", "ipfs", "cid", str(data)]
        return lambda: subprocess.run(
            [*command, "--profile", profile], capture_output=True, text=True, check=True
        ).stdout.strip()

    def kubo(profile: str) -> Callable[[], str]:
        command = [str(ipfs), "add", "--only-hash", "-Q", str(data)]
        env = kubo_env(repos[profile])
        return lambda: subprocess.run(
            command, capture_output=True, text=True, check=True, env=env
        ).stdout.strip()

    def sha256sum() -> str:
        return subprocess.run(
            ["sha256sum", str(data)], capture_output=True, text=True, check=True
        ).stdout.split()[0]

    def plain_hashlib() -> str:
        digest, buffer = hashlib.sha256(), bytearray(MiB)
        view = memoryview(buffer)
        with data.open("rb", buffering=0) as stream:
            while count := stream.readinto(buffer):
                digest.update(view[:count])
        return digest.hexdigest()

    rows = {profile: Row(profile) for profile in PROFILES}
    digests: dict[str, list[float]] = {"sha256sum": [], "hashlib": []}
    for round_index in range(rounds + 1):  # round 0 warms every side up, untimed
        for profile, row in rows.items():
            sides = {"troika": troika(profile), "troika-cli": troika_cli(profile)}
            sides["kubo"] = kubo(profile)
            order = list(sides) if round_index % 2 == 0 else list(reversed(sides))
            for side in order:
                seconds, cid = time_it(sides[side])
                if round_index:
                    row.times.setdefault(side, []).append(seconds)
                    row.cids.setdefault(side, set()).add(cid)
        for name, run in (("sha256sum", sha256sum), ("hashlib", plain_hashlib)):
            seconds, _ = time_it(run)
            if round_index:
                digests[name].append(seconds)
        log(f"round {round_index}/{rounds} done" if round_index else "warm-up done")
    for row in rows.values():
        row.times.update(digests)
    return list(rows.values())


def peak_rss_mib(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run ``command`` to its end; its peak resident set (MiB) and its stdout."""
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"{command} exited with {child.returncode}")
        out.seek(0)
        return usage.ru_maxrss / 1024, out.read().decode().strip()


_TRACED = """
import sys, tracemalloc
from troika.ipfs import cid_of, import_path
path, profile, blocks = sys.argv[1], sys.argv[2], sys.argv[3] == "blocks"
tracemalloc.start()
if blocks:
    for block in import_path(path, profile=profile):
        root = block.cid
else:
    root = cid_of(path, profile=profile)
print(root, tracemalloc.get_traced_memory()[1])
"""


def memory(ipfs: Path, repos: dict[str, Path], data: Path) -> list[dict[str, Any]]:
    """Peak RSS of each child; for troika also the peak of Python's heap while it imports
    (tracemalloc, started after ``import troika.ipfs``), which the RSS of the imports hides."""
    python = [sys.executable, "-c"]
    cases: list[tuple[str, list[str], dict[str, str] | None]] = [
        ("python + import troika.ipfs (baseline)", [*python, "import troika.ipfs"], None),
    ]
    for profile in PROFILES:
        command = [*python, _TRACED, str(data), profile, "cid"]
        cases.append((f"troika cid_of, {profile}", command, None))
    command = [*python, _TRACED, str(data), "v1-2025", "blocks"]
    cases.append(("troika import_path, every block, v1-2025", command, None))
    for profile in PROFILES:
        command = [str(ipfs), "add", "--only-hash", "-Q", str(data)]
        cases.append((f"kubo ipfs add --only-hash, {profile}", command, kubo_env(repos[profile])))
    results = []
    for name, command, env in cases:
        rss, out = peak_rss_mib(command, env)
        entry: dict[str, Any] = {"what": name, "peak_rss_mib": round(rss, 1)}
        words = out.split()
        if len(words) == 2:
            entry.update(cid=words[0], heap_peak_mib=round(int(words[1]) / MiB, 2))
        elif words:
            entry.update(cid=words[0])
        results.append(entry)
        log(f"memory: {name}: {rss:.1f} MiB")
    return results


def report(
    rows: list[Row], mem: list[dict[str, Any]], size: int, mem_size: int, rounds: int
) -> str:
    header = (
        f"{'profile':<8} {'troika s':>8} {'cli s':>6} {'kubo s':>6} {'sha256sum s':>11} "
        f"{'hashlib s':>9} {'troika MiB/s':>12} {'vs kubo':>7} {'cli vs kubo':>11} "
        f"{'vs sha256sum':>12} {'vs hashlib':>10}  same CID"
    )
    lines = [
        f"CID of a {size // MiB} MiB file (page-cached): median of {rounds} interleaved rounds",
        header,
        "-" * len(header),
    ]
    for row in rows:
        cli_vs_kubo = row.median("kubo") / row.median("troika-cli")
        lines.append(
            f"{row.profile:<8} {row.median('troika'):>8.3f} {row.median('troika-cli'):>6.3f} "
            f"{row.median('kubo'):>6.3f} {row.median('sha256sum'):>11.3f} "
            f"{row.median('hashlib'):>9.3f} "
            f"{size / MiB / row.median('troika'):>12.0f} {row.speed('kubo'):>6.2f}x "
            f"{cli_vs_kubo:>10.2f}x {row.speed('sha256sum'):>11.2f}x "
            f"{row.speed('hashlib'):>9.2f}x  "
            f"{'yes' if row.same_cid else '!! NO: ' + ' '.join(sorted(row.cids['kubo']))}"
        )
    lines.append(
        "vs = peer seconds / troika seconds (above 1: troika faster); cli = `troika ipfs cid`, "
        "a new process each time"
    )
    lines += [
        "",
        f"peak RSS while computing the CID of a {mem_size // MiB} MiB file (child process)",
    ]
    lines.append(f"  {'':<42} {'peak RSS':>9} {'heap peak':>10}")
    for entry in mem:
        heap = f"{entry['heap_peak_mib']:>6.2f} MiB" if "heap_peak_mib" in entry else ""
        lines.append(f"  {entry['what']:<42} {entry['peak_rss_mib']:>5.1f} MiB {heap:>10}")
    lines.append(
        "heap peak: Python's allocations while importing (tracemalloc), which the RSS of "
        "the imports hides"
    )
    for profile in PROFILES:
        found = {e.get("cid") for e in mem if e["what"].endswith(profile) and "cid" in e}
        agree = "yes" if len(found) == 1 else "!! NO: " + " ".join(map(str, sorted(found)))
        lines.append(f"same CID from troika and kubo for the big file, {profile}: {agree}")
    return "\n".join(lines)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value!r}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mib", type=_positive, default=512, help="throughput file (512)")
    parser.add_argument(
        "--memory-size-mib", type=_positive, default=2048, help="memory file (2048)"
    )
    parser.add_argument("--rounds", type=_positive, default=5, help="interleaved rounds (5)")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("sha256sum") is None:
        parser.error("sha256sum (coreutils) is not on PATH")

    started = time.perf_counter()
    ipfs = kubo_binary()
    with tempfile.TemporaryDirectory(prefix="troika-bench-") as scratch:
        work = Path(scratch)
        repos = {}
        for name, profiles in PROFILES.items():
            repos[name] = work / name
            subprocess.run(
                [str(ipfs), "init", "--profile", ",".join(profiles)],
                env=kubo_env(repos[name]),
                capture_output=True,
                check=True,
            )
        size, mem_size = args.size_mib * MiB, args.memory_size_mib * MiB
        log(f"writing {args.size_mib} MiB of random bytes")
        data = work / "data.bin"
        write_random_file(data, size)
        rows = throughput(ipfs, repos, data, args.rounds)
        data.unlink()
        log(f"writing {args.memory_size_mib} MiB of random bytes")
        big = work / "big.bin"
        write_random_file(big, mem_size)
        mem = memory(ipfs, repos, big)
    elapsed = time.perf_counter() - started

    table = report(rows, mem, size, mem_size, args.rounds)
    if args.json:
        log(table)
        line = {
            "benchmark": "ipfs_cid",
            "size_mib": args.size_mib,
            "memory_size_mib": args.memory_size_mib,
            "rounds": args.rounds,
            "elapsed_s": round(elapsed, 1),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "versions": {
                "troika-sdk": version("troika-sdk"),
                "kubo": subprocess.run(
                    [str(ipfs), "version", "--number"], capture_output=True, text=True, check=True
                ).stdout.strip(),
            },
            "throughput": [row.as_json(size) for row in rows],
            "memory": mem,
        }
        print(json.dumps(line, separators=(",", ":")))
    else:
        print(table)
        print(f"({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
