"""``troika compute request --token``, run as a user runs it, on a real anvil
and a real Kubo: a job paid in an ERC-20 test token (OpenZeppelin's ERC20,
tests/artifacts/TestToken.json), approved and escrowed by the command, and a
node whose configuration takes that token from a minimum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests._services import Anvil, Kubo
from tests.cli._compute_market import compute_market
from tests.cli.test_cli import one_line_error, run
from tests.conftest import ARTIFACTS

from troika.chain import ArtifactStore

pytestmark = pytest.mark.kubo


def test_a_job_paid_in_a_token_and_a_node_that_takes_it(
    anvil: Anvil, kubo: Kubo, tmp_path: Path
) -> None:
    with compute_market(anvil, kubo, tmp_path, artifacts=ArtifactStore([ARTIFACTS])) as market:
        home, env, chain, jobs = market.home, market.env, market.chain, market.jobs
        hospital, agent, dataset = market.hospital, market.agent, market.dataset
        token = chain.deploy("TestToken", record=False)
        token.transact("mint", agent.address, 10**6)
        config = tmp_path / "node.toml"
        config.write_text(
            f'key = "hospital"\n[[datasets]]\ntoken = {dataset}\ndata = "ages.csv"\n'
            f'kinds = ["stats"]\nmin_token_payments = {{ "{token.address}" = 1000 }}\n'
        )
        params = tmp_path / "mean.json"
        params.write_text(
            json.dumps({"column": "age", "statistic": "mean", "bounds": [0, 100], "epsilon": 0.5})
        )

        def request(payment: int, address: str) -> list[str]:
            return [
                "compute", "request", "stats", "--dataset", str(dataset), "--params",
                str(params), "--payment", str(payment), "--token", address, "--key", "agent",
            ]  # fmt: skip

        paid = run(*request(1000, token.address), "--json", home=home, env=env)
        assert paid.returncode == 0, paid.stderr
        answer = json.loads(paid.stdout)
        assert answer["payment_token"] == token.address
        first = answer["job_id"]
        assert token.call("balanceOf", jobs.address) == 1000
        assert token.call("balanceOf", agent.address) == 10**6 - 1000
        cheap = run(*request(999, token.address), "--json", home=home, env=env)
        assert cheap.returncode == 0, cheap.stderr
        second = json.loads(cheap.stdout)["job_id"]

        once = run("compute", "node", "--config", str(config), "--once", home=home, env=env)
        assert once.returncode == 0, once.stderr
        decisions = [json.loads(line) for line in once.stdout.splitlines()]
        assert [(d["job_id"], d["accepted"]) for d in decisions] == [
            (first, True),
            (second, False),
        ]
        assert "below the minimum of 1000 of token" in decisions[1]["reason"]
        status = run("compute", "status", str(first), "--json", home=home, env=env)
        shown = json.loads(status.stdout)
        assert (shown["status"], shown["payment"], shown["payment_token"]) == (
            "running",
            1000,
            token.address,
        )

        error = one_line_error(run(*request(5, "0x1234"), home=home, env=env))
        assert "payment_token" in error
        assert "0x1234" in error

        # withdrawals in the token: the node's account for the job it ran (it
        # confirms a result digest by hand here), the agent's refund of the other
        digest = bytes(range(32))
        jobs.submit_result(first, digest, digest, sender=hospital.signer)
        chain.w3.provider.make_request("evm_increaseTime", [3601])  # type: ignore[arg-type]
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        jobs.refund(second, sender=agent.signer)

        def withdraw(key: str, *token_option: str) -> dict[str, object]:
            done = run(
                "compute", "withdraw", *token_option, "--key", key, "--json", home=home, env=env
            )
            assert done.returncode == 0, done.stderr
            answer: dict[str, object] = json.loads(done.stdout)
            return answer

        # one dataset, so the owners' and the nodes' shares both go to the hospital
        paid = {"account": hospital.address, "amount": 1000, "token": token.address}
        assert withdraw("hospital", "--token", token.address) == paid
        assert token.call("balanceOf", hospital.address) == 1000
        assert withdraw("hospital", "--token", token.address)["amount"] == 0  # paid already
        assert withdraw("hospital")["amount"] == 0  # nothing in the coin
        assert withdraw("agent", "--token", token.address)["amount"] == 999
        assert token.call("balanceOf", agent.address) == 10**6 - 1000
        error = one_line_error(
            run("compute", "withdraw", "--token", "0x1234", "--key", "agent", home=home, env=env)
        )
        assert "0x1234" in error


def test_a_node_config_with_a_mistyped_token_is_one_line(tmp_path: Path) -> None:
    """A token address that is not one would refuse every job paid in the
    token meant: the node does not start."""
    config = tmp_path / "node.toml"
    config.write_text(
        'key = "x"\n[[datasets]]\ntoken = 1\ndata = "d.csv"\n'
        'min_token_payments = { "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB4" = 1000 }\n'
    )
    error = one_line_error(run("compute", "node", "--config", str(config), home=tmp_path))
    assert "min_token_payments" in error
    assert "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB4" in error
