"""``troika compute``, run as a user runs it, on a real anvil and a real Kubo:
a requester's job, a node process that accepts it and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests._services import Anvil, Kubo
from tests.cli._compute_market import compute_market
from tests.cli.test_cli import one_line_error, run

pytestmark = pytest.mark.kubo


def test_request_accept_status_and_a_clean_stop(anvil: Anvil, kubo: Kubo, tmp_path: Path) -> None:
    with compute_market(anvil, kubo, tmp_path) as market:
        home, env, dataset = market.home, market.env, market.dataset
    config = tmp_path / "node.toml"
    config.write_text(
        f'key = "hospital"\n[[datasets]]\ntoken = {dataset}\ndata = "ages.csv"\n'
        'kinds = ["stats"]\nmax_epsilon = 1.0\n'
    )
    params = tmp_path / "mean.json"
    params.write_text(
        json.dumps({"column": "age", "statistic": "mean", "bounds": [0, 100], "epsilon": 0.5})
    )

    requested = run(
        "compute", "request", "stats", "--dataset", str(dataset), "--params", str(params),
        "--payment", "1000", "--key", "agent", "--json", home=home, env=env,
    )  # fmt: skip
    assert requested.returncode == 0, requested.stderr
    first = json.loads(requested.stdout)["job_id"]

    once = run("compute", "node", "--config", str(config), "--once", home=home, env=env)
    assert once.returncode == 0, once.stderr
    assert json.loads(once.stdout) == {
        "job_id": first,
        "dataset": dataset,
        "accepted": True,
        "reason": "",
    }
    status = run("compute", "status", str(first), "--json", home=home, env=env)
    assert json.loads(status.stdout)["status"] == "running"
    # not completed: no result to fetch
    assert "not confirmed yet" in one_line_error(
        run("compute", "result", str(first), "--key", "agent", home=home, env=env)
    )

    # the node as a long-running process: it refuses a job over its epsilon, then stops on SIGTERM
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TROIKA_")}
    full_env |= env | {"TROIKA_HOME": str(home), "TROIKA_CONFIG": str(home / "none.toml")}
    process = subprocess.Popen(
        [sys.executable, "-m", "troika.cli", "compute", "node", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )
    try:
        greedy = tmp_path / "greedy.json"
        greedy.write_text(json.dumps({"column": "age", "statistic": "count", "epsilon": 1.5}))
        second = run(
            "compute", "request", "stats", "--dataset", str(dataset), "--params", str(greedy),
            "--payment", "1000", "--key", "agent", "--json", home=home, env=env,
        )  # fmt: skip
        assert second.returncode == 0, second.stderr
        assert process.stdout is not None
        line = process.stdout.readline()  # bounded by the test's timeout
        decision = json.loads(line)
        assert decision["job_id"] == json.loads(second.stdout)["job_id"]
        assert decision["accepted"] is False
        assert "privacy budget" in decision["reason"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, stderr
    assert "stopping" in stderr
    assert stderr.rstrip().endswith("stopped")


def test_a_bad_node_config_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('key = "x"\n[[datasets]]\ntoken = 0\ndata = "d.csv"\n')
    error = one_line_error(run("compute", "node", "--config", str(config), home=tmp_path))
    assert "datasets.0.token" in error
    config.write_text("not toml [")
    assert "not a readable TOML file" in one_line_error(
        run("compute", "node", "--config", str(config), home=tmp_path)
    )
