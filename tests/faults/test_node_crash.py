"""A compute node (``troika compute node``, a real process) SIGKILLed while its
acceptance of a job is in flight, and started again: its acceptance is on
chain but its state file never recorded it. The restarted node records the
job as accepted without sending again, keeps watching (it accepts the next
job), and after the deadline the requester is refunded every job exactly
once: nothing lost, nothing paid twice.

The window is made certain with a real fault, not a mock: automining is off
on the test's own anvil while the node sends its acceptance, so the node is
killed waiting for the receipt; the test then mines the block itself.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import pytest

from tests._services import Anvil, Kubo
from tests.faults.conftest import FaultReport
from troika import JobStateError
from troika.assets import Assets, DatasetMetadata
from troika.chain import Chain, Keystore
from troika.compute import Compute, ComputeJobs, JobStatus
from troika.did import EthrRegistry
from troika.did._identity import Identities
from troika.ipfs import KuboStore

pytestmark = [pytest.mark.anvil, pytest.mark.kubo]

PASSWORD = "correct horse"
ETHER = 10**18
WAIT = 60.0  # seconds any one step may take before the test gives up
MEAN = {"column": "age", "statistic": "mean", "bounds": [0, 100], "epsilon": 0.5}


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[Anvil]:
    with Anvil(workdir=tmp_path / "anvil") as anvil:
        yield anvil


@pytest.fixture
def store(kubo: Kubo) -> Iterator[KuboStore]:
    with KuboStore(kubo.api_url) as store:
        yield store


def rpc(chain: Chain, method: str, *params: object) -> Any:
    answer = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer["result"]


def wait_until(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting {WAIT} s for {what}")
        time.sleep(0.05)


class NodeProcess:
    """``troika compute node --config FILE`` with its stdout lines in a queue."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "troika.cli", "compute", "node", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self._drains = []
        for stream, sink in ((self.process.stdout, self.lines.put), (self.process.stderr, None)):
            assert stream is not None
            drain = threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
            drain.start()
            self._drains.append(drain)

    def _drain(self, stream: IO[str], sink: Callable[[str], None] | None) -> None:
        with stream:
            for line in stream:
                (sink or self.stderr.append)(line)

    def _reaped(self) -> None:
        for drain in self._drains:  # they end at EOF, once the process is gone
            drain.join(timeout=WAIT)

    def decision(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no decision within {WAIT} s: {''.join(self.stderr)}") from None
        decision = json.loads(line)
        assert isinstance(decision, dict)
        return decision

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=WAIT)
        self._reaped()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WAIT)
        self._reaped()
        return self.process.returncode


def test_a_node_killed_while_accepting_resumes_without_accepting_twice(
    own_anvil: Anvil, kubo: Kubo, store: KuboStore, tmp_path: Path, fault_report: FaultReport
) -> None:
    home = tmp_path / "home"
    data = tmp_path / "ages.csv"
    data.write_text("age,label\n" + "".join(f"{20 + i % 50},{i % 2}\n" for i in range(100)))
    chain = Chain.connect(own_anvil.url, chain_id=own_anvil.chain_id, home=home)
    identities = Identities(chain, Keystore(home, scrypt_n=2**10), EthrRegistry.deploy(chain))
    hospital = identities.create("hospital", PASSWORD, kind="person")
    agent = identities.create("agent", PASSWORD, kind="agent")
    for someone in (hospital, agent):
        chain.transfer(someone.address, ETHER)
    owner = Assets(chain, store, identity=hospital, minter=chain.default_sender)
    # two datasets: the node serves the first; the second's owner never answers,
    # so a job on both stays open after the node's acceptance
    served, silent = (
        owner.mint_dataset(
            data, DatasetMetadata(name=name, properties={"media_type": "text/csv"}), encrypt=False
        ).token_id
        for name in ("served", "silent")
    )
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    for dataset in (served, silent):
        owner.grant_license(dataset, agent, until)
    jobs = ComputeJobs.deploy(chain, owner.registry.address)
    jobs.set_budget(served, 3.0, sender=hospital.signer)
    requester = Compute(jobs, Assets(chain, store, owner.registry, identity=agent))
    deadline = chain.block("latest").timestamp + 600  # type: ignore[union-attr]

    config = tmp_path / "node.toml"
    config.write_text(
        f'key = "hospital"\ninterval = 0.2\nconfirmations = 1\n[[datasets]]\ntoken = {served}\n'
    )
    config.write_text(config.read_text() + f'data = "{data}"\nkinds = ["stats"]\n')
    state = tmp_path / "node.state.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROIKA_")}
    env |= {
        "TROIKA_RPC_URL": own_anvil.url,
        "TROIKA_IPFS_API": kubo.api_url,
        "TROIKA_KEY_PASSWORD": PASSWORD,
        "TROIKA_HOME": str(home),
        "TROIKA_CONFIG": str(home / "none.toml"),
    }

    def unmined(account: str) -> int:
        pending = chain.w3.eth.get_transaction_count(account, "pending")  # type: ignore[arg-type]
        return pending - chain.w3.eth.get_transaction_count(account, "latest")  # type: ignore[arg-type]

    node = NodeProcess(config, env)
    try:
        rpc(chain, "evm_setAutomine", False)
        with ThreadPoolExecutor(1) as pool:
            requested = pool.submit(
                requester.request,
                "stats",
                [served, silent],
                params=MEAN,
                payment=1000,
                deadline=deadline,
            )
            wait_until("the request to be sent", lambda: unmined(agent.address) == 1)
            rpc(chain, "evm_mine")
            first = requested.result(timeout=WAIT)
        # the node has read the chain since the request's block was mined (up to
        # its parent: it waits for 1 confirmation) and has not acted on the job
        request_block = chain.block_number

        def polled_past_the_request() -> bool:
            saved = json.loads(state.read_text()) if state.exists() else {}
            return int(saved.get("block") or 0) >= request_block - 1

        wait_until("the node to poll after the request was mined", polled_past_the_request)
        assert unmined(hospital.address) == 0
        # one block deeper, the node sees the job and sends its acceptance, which
        # nothing mines
        rpc(chain, "evm_mine")
        wait_until("the node's acceptance to be sent", lambda: unmined(hospital.address) == 1)

        fault_report.inject("compute node process SIGKILLed with its job acceptance in flight")
        node.kill()
        rpc(chain, "evm_mine")  # the acceptance is on chain; the node never saw its receipt
        rpc(chain, "evm_setAutomine", True)
        assert jobs.participant_of(first, served) == hospital.address
        recorded = json.loads(state.read_text())["decisions"] if state.exists() else {}
        assert f"{first}:{served}" not in recorded  # the crash lost the decision

        node = NodeProcess(config, env)
        assert node.decision() == {
            "job_id": first,
            "dataset": served,
            "accepted": True,
            "reason": "",
        }
        # it keeps watching: the next job is accepted as usual
        second = requester.request(
            "stats", [served, silent], params=MEAN, payment=2000, deadline=deadline
        )
        rpc(chain, "evm_mine")  # its confirmation
        assert node.decision() == {
            "job_id": second,
            "dataset": served,
            "accepted": True,
            "reason": "",
        }
    finally:
        code = node.stop()
    assert code == 0, "".join(node.stderr)

    accepted = list(jobs.events("JobAccepted"))
    assert sorted((e.args["jobId"], e.args["datasetId"]) for e in accepted) == [
        (first, served),
        (second, served),
    ]
    for job_id in (first, second):
        job = jobs.job(job_id)
        assert (job.status, job.accepted) == (JobStatus.REQUESTED, 1)

    # the silent owner never accepts; past the deadline the requester is refunded, once each
    with pytest.raises(JobStateError):
        requester.refund(first)
    rpc(chain, "evm_increaseTime", 601)
    rpc(chain, "evm_mine")
    escrow = chain.balance(jobs.address)
    assert escrow == 3000
    requester.refund(first)
    requester.refund(second)
    with pytest.raises(JobStateError) as again:
        requester.refund(first)
    assert again.value.status == "refunded"
    assert (jobs.owed(agent.address), jobs.owed(hospital.address)) == (3000, 0)
    assert requester.withdraw() == 3000
    assert (jobs.owed(agent.address), chain.balance(jobs.address)) == (0, 0)
    fault_report.detail = (
        f"restarted node recorded job {first} as accepted without resending; "
        f"accepted job {second}; both refunded once (3000 wei), escrow empty"
    )
