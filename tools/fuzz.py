"""Coverage-guided fuzzing of troika's byte-level parsers with atheris, for a bounded time.

Usage::

    .venv/bin/python tools/fuzz.py [SECONDS] [--targets car,dagpb,...] [--out build/fuzz]
    tools/fuzz.sh [SECONDS]

Each target of ``tests/hardening/_fuzz_targets.py`` (the CAR reader, the dag-pb
and UnixFS decoders, binary and string CIDs, multibase, the UnixFS exporter
over a CAR) runs in its own process for SECONDS (60 by default) under
atheris/libFuzzer, with troika's modules instrumented for coverage, seeded with
inputs made by troika's own writers. A run fails (exit status 1) if any input
makes a parser raise anything but its documented error, or take longer than
``--timeout`` seconds (a hang), or the process grow past ``--rss-limit-mb``
(unbounded memory). The failing input is kept under ``--out`` as
``<target>-crash-*``, ``-timeout-*`` or ``-oom-*``; the grown corpus under
``--out/<target>/corpus`` seeds the next run.

atheris is installed into this interpreter's environment when missing (it has
wheels for CPython 3.11 on x86-64 Linux). It is not part of the test suite;
``tests/hardening/test_fuzz_smoke.py`` runs each target on its seeds.

With ``TROIKA_REPORT_DIR`` set, one ``fuzz`` record per target (inputs tried,
seconds, outcome) goes to the hardening report (``tools/hardening_report.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ is a package: the targets and the report recorder

_ATHERIS = "atheris>=2.3,<4"


def ensure_atheris() -> None:
    """Install atheris into this environment if it is missing."""
    if importlib.util.find_spec("atheris") is not None:
        return
    print(f"atheris is missing; installing {_ATHERIS} into {sys.prefix}", file=sys.stderr)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", _ATHERIS], check=False, timeout=600
    )
    if done.returncode != 0 or importlib.util.find_spec("atheris") is None:
        sys.exit(
            "atheris cannot be installed for this Python "
            f"({sys.version.split()[0]}); no fuzzing was done"
        )


def child(name: str, libfuzzer_args: list[str]) -> None:
    """Run inside the fuzzing process: instrument troika, then hand over to libFuzzer."""
    import atheris

    with atheris.instrument_imports(include=["troika"]):
        import troika.ipfs
        import troika.ipfs._car
        import troika.ipfs._cid
        import troika.ipfs._dag
        import troika.ipfs._dagpb
        import troika.ipfs._exporter
        import troika.ipfs._multiformats  # noqa: F401
    from tests.hardening._fuzz_targets import TARGETS

    target = TARGETS[name]

    def one_input(data: bytes) -> None:
        target(data)  # documented errors are caught; anything else is a crash

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


_RUNS = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_COVERAGE = re.compile(r"cov: (\d+) ft: (\d+)")
_PEAK_RSS = re.compile(r"stat::peak_rss_mb:\s*(\d+)")
_ARTIFACT = re.compile(r"(?:Test unit|artifact) written to (\S+)")


def fuzz_one(
    name: str, seconds: int, out: Path, *, timeout: int, rss_limit_mb: int, max_len: int
) -> dict[str, Any]:
    """Fuzz one target in its own process; its figures and outcome."""
    from tests.hardening._fuzz_targets import TARGETS, seeds

    work = out / name
    corpus, seed_dir = work / "corpus", work / "seeds"
    corpus.mkdir(parents=True, exist_ok=True)
    seed_dir.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds(name)):
        (seed_dir / f"seed-{index:03}").write_bytes(seed)
    libfuzzer = [
        f"-max_total_time={seconds}",
        f"-timeout={timeout}",
        f"-rss_limit_mb={rss_limit_mb}",
        f"-max_len={max_len}",
        "-print_final_stats=1",
        f"-artifact_prefix={out}/{name}-",
        str(corpus),
        str(seed_dir),
    ]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, __file__, "--child", name, "--", *libfuzzer],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + timeout + 120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "sdk")},
    )
    elapsed = time.monotonic() - started
    log = done.stdout + done.stderr
    (work / "log.txt").write_text(log)
    runs = _RUNS.findall(log) or [m[0] for m in _DONE.findall(log)]
    coverage = _COVERAGE.findall(log)
    artifacts = _ARTIFACT.findall(log)
    ok = done.returncode == 0
    if ok:
        detail = "every input accepted or refused with the documented error"
    else:
        finding = "crash"
        if "libFuzzer: timeout" in log:
            finding = "hang"
        elif "out-of-memory" in log:
            finding = "memory"
        detail = f"{finding}: input kept in {artifacts[-1] if artifacts else work}"
    return {
        "target": name,
        "parser": TARGETS[name].parser,
        "outcome": "survived" if ok else "failed",
        "inputs": int(runs[-1]) if runs else 0,
        "seconds": round(elapsed, 1),
        "coverage": int(coverage[-1][0]) if coverage else None,
        "features": int(coverage[-1][1]) if coverage else None,
        "peak_rss_mb": int(rss[-1]) if (rss := _PEAK_RSS.findall(log)) else None,
        "seeds": len(seeds(name)),
        "corpus": sum(1 for _ in corpus.iterdir()),
        "detail": detail,
        "exit_status": done.returncode,
        "engine": "atheris",
    }


def record(result: dict[str, Any]) -> None:
    """One ``fuzz`` record for the hardening report, if ``TROIKA_REPORT_DIR`` is set."""
    if not os.environ.get("TROIKA_REPORT_DIR"):
        return
    from tests._report import record as report

    extra = {k: v for k, v in result.items() if k not in ("target", "outcome", "detail")}
    report("fuzz", result["target"], result["outcome"], result["detail"], **extra)


def main() -> int:
    """Fuzz the targets in turn; exit status 1 if any found something."""
    if "--child" in sys.argv:
        at = sys.argv.index("--child")
        rest = sys.argv[at + 2 :]
        child(sys.argv[at + 1], rest[1:] if rest[:1] == ["--"] else rest)
        return 0
    from tests.hardening._fuzz_targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seconds", nargs="?", type=int, default=60, help="per target")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated names")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "fuzz")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--rss-limit-mb", type=int, default=1024)
    parser.add_argument("--max-len", type=int, default=8192, help="bytes of one input")
    parser.add_argument("--json", action="store_true", help="one JSON line per target")
    args = parser.parse_args()
    ensure_atheris()
    names = [name for name in args.targets.split(",") if name]
    unknown = [name for name in names if name not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")
    failed = 0
    print(f"{'target':<14} {'inputs':>10} {'inputs/s':>9} {'cov':>6}  outcome", file=sys.stderr)
    for name in names:
        result = fuzz_one(
            name,
            args.seconds,
            args.out.resolve(),
            timeout=args.timeout,
            rss_limit_mb=args.rss_limit_mb,
            max_len=args.max_len,
        )
        record(result)
        failed += result["outcome"] != "survived"
        rate = result["inputs"] / max(result["seconds"], 1e-9)
        print(
            f"{name:<14} {result['inputs']:>10} {rate:>9.0f} {result['coverage'] or 0:>6}  "
            f"{result['outcome']}: {result['detail']}",
            file=sys.stderr,
        )
        if args.json:
            print(json.dumps(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
