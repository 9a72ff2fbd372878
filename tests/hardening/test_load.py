"""Short versions of the load runs (bench/load_resolver.py, bench/load_node.py).

The resolver service runs as its own process for 10 s under load from this
one, with a cache small enough to fill and evict within the run: no request
may fail or get a wrong answer, the service must still be up, and its memory
must not grow without bound: the bound (RSS end - start under 64 MiB) is
generous on purpose, since this is a check for a leak, not a measurement (the
figures are the 3-minute run's, in docs/hardening.md). A node then works
through 10 queued stats jobs on anvil: all completed, none accepted twice,
every wei paid out.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_resolver_service_holds_10_s_of_load_with_flat_memory() -> None:
    result = bench("load_resolver").run(duration=10, concurrency=8, cache_size=256, seed=1)
    assert result["errors"] == 0, result["error_examples"]
    assert result["service_alive"]
    assert result["requests"] > 0
    assert result["rss_samples"] >= 5
    assert result["rss_end_mib"] - result["rss_start_mib"] < 64


@pytest.mark.slow
@pytest.mark.anvil
def test_a_node_works_through_10_queued_jobs(tmp_path: Path) -> None:
    result = bench("load_node").run(10, tmp_path)
    assert set(result["checks"]) == {
        "all completed",
        "every job accepted",
        "none accepted twice on chain",
        "one decision per job",
        "nothing decided again after a restart",
        "payouts exact",
        "nothing left in escrow",
    }
    assert [name for name, held in result["checks"].items() if not held] == []
    assert result["completed"] == 10
    assert result["paid_wei"] == result["expected_wei"]
