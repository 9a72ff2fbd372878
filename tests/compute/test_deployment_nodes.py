"""Separate organisations: a federated-train job on Flower's deployment engine.

Three hospitals each run ``troika compute node --config`` as its own process,
and each node runs its own Flower SuperNode (a child process); the agent's
coordinator runs a SuperLink. The job is requested on anvil (specs and results
on a real Kubo), accepted by the three node processes, trained under SecAgg+ on
the deployment, confirmed on chain by every node from what its own ClientApp
received, and paid out. A node's ClientApp refuses a run for a job its node
did not accept, or with parameters other than those it accepted.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from tests._services import Anvil, Kubo
from tests.cli.test_cli import one_line_error, run
from tests.compute.test_node import (  # noqa: F401 (market: the fixture)
    ETHER,
    Market,
    market,
    mint_base_model,
    now,
    write_csv,
)
from troika._errors import ConfigError, InvalidJob, JobFailed
from troika.assets import Assets, DatasetMetadata
from troika.chain import Chain, Keystore
from troika.compute import _federated
from troika.compute import _flower_app as app
from troika.compute._federated import FlowerDeployment, TrainParams
from troika.compute._jobs import ComputeJobs, JobStatus
from troika.compute._models import LogisticRegressionModel, Model
from troika.compute._node import Compute, Coordinator, FlowerSettings, Node
from troika.compute._privacy import StatsQuery
from troika.did import EthrRegistry
from troika.did._identity import Identities
from troika.ipfs import KuboStore

PASSWORD = "correct horse"
# One SecAgg+ round (a deployment round costs ~12-40 s of Flower's polls and
# process starts); 20 local epochs get within a point of scikit-learn here.
PARAMS = TrainParams(rounds=1, local_epochs=20, learning_rate=1.0)
#: The model token's weights in the tests without a chain.
BASE = LogisticRegressionModel.init(30, seed=1)


def _split() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    features, y = load_breast_cancer(return_X_y=True)
    features = (features - features.mean(0)) / features.std(0)
    x_train, x_test, y_train, y_test = train_test_split(
        features, y, test_size=0.2, stratify=y, random_state=0
    )
    return [(x_train[i::3], y_train[i::3]) for i in range(3)], x_test, y_test


def _children(pid: int, name: str) -> list[int]:
    """The live child processes of ``pid`` whose command line mentions ``name`` (Linux /proc)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            command = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # it exited meanwhile
            continue
        if int(fields.get("PPid", "0")) == pid and name in command:
            found.append(int(status.parent.name))
    return found


def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.5)


def _run_beside(
    side: Callable[[], None],
    config: dict[str, Any],
    nodes: list[dict[str, Any]],
    job_id: int,
    timeout: float,
) -> dict[str, Any]:
    """Job ``job_id`` run in process with the real apps while ``side`` (a
    coordinator, a late acceptance) runs in a thread; the run's result."""
    helper = threading.Thread(target=side)
    helper.start()
    try:
        with _federated._job(job_id):
            result, _ = _federated._run_in_process(config, nodes, timeout)
    finally:
        helper.join(timeout=timeout + 5)
    return result


@pytest.mark.kubo
@pytest.mark.anvil
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_three_organisations_train_on_a_deployment_confirm_and_are_paid(
    anvil: Anvil, kubo: Kubo, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shards, x_test, y_test = _split()
    with (
        Chain.connect(anvil.url, chain_id=anvil.chain_id, home=home) as chain,
        KuboStore(kubo.api_url) as store,
    ):
        identities = Identities(chain, Keystore(home, scrypt_n=2**10), EthrRegistry.deploy(chain))
        hospitals = [identities.create(f"hospital-{i}", PASSWORD, kind="person") for i in range(3)]
        modeller = identities.create("modeller", PASSWORD, kind="person")
        agent = identities.create("agent", PASSWORD, kind="agent")
        for someone in (*hospitals, modeller, agent):
            chain.transfer(someone.address, 5 * ETHER)
        minter = chain.default_sender

        def assets(identity: object) -> Assets:
            return Assets(chain, store, identity=identity, minter=minter)  # type: ignore[arg-type]

        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        datasets = []
        for i, hospital in enumerate(hospitals):
            shard = write_csv(tmp_path / f"hospital-{i}.csv", *shards[i])
            minted = assets(hospital).mint_dataset(
                shard, DatasetMetadata(name=f"tumours {i}", properties={"media_type": "text/csv"})
            )
            datasets.append(minted.token_id)
            assets(hospital).grant_license(minted.token_id, agent, until)
        model = mint_base_model(assets(modeller), tmp_path)
        weights = tmp_path / "base.npz"  # the base model's file, as minted
        assets(modeller).grant_license(model, agent, until)
        jobs = ComputeJobs.deploy(chain, assets(agent).registry.address)
        for hospital, dataset in zip(hospitals, datasets, strict=True):
            jobs.set_budget(dataset, 1.0, sender=hospital.signer)
        agent_assets = assets(agent)
        compute = Compute(jobs, agent_assets)

        env = {k: v for k, v in os.environ.items() if not k.startswith("TROIKA_")}
        env |= {
            "TROIKA_RPC_URL": anvil.url,
            "TROIKA_IPFS_API": kubo.api_url,
            "TROIKA_KEY_PASSWORD": PASSWORD,
            "TROIKA_HOME": str(home),
            "TROIKA_CONFIG": str(home / "none.toml"),
        }
        started = time.monotonic()
        with FlowerDeployment(folder=tmp_path / "superlink", run_timeout=200) as link:
            processes = []
            for i, dataset in enumerate(datasets):
                config = tmp_path / f"node-{i}.toml"
                config.write_text(
                    f'key = "hospital-{i}"\ninterval = 0.5\n'
                    f'[[datasets]]\ntoken = {dataset}\ndata = "hospital-{i}.csv"\n'
                    f'[flower]\nsuperlink = "{link.address}"\nrequire_secure = true\n'
                )
                log = (tmp_path / f"node-{i}.log").open("wb")
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "troika.cli",
                            "compute",
                            "node",
                            "--config",
                            str(config),
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
                log.close()
            try:
                job_id = compute.request(
                    "federated-train",
                    datasets,
                    model=model,
                    params=PARAMS,
                    payment=ETHER,
                    deadline=now(chain) + 3600,
                )
                _until(lambda: jobs.job(job_id).status is JobStatus.RUNNING, 60, "acceptance")
                coordinator = Coordinator(
                    jobs, agent_assets, runtime="deployment", deployment=link, timeout=60
                )
                result_bytes, _ = coordinator.run(job_id)
                _until(lambda: jobs.job(job_id).status is JobStatus.COMPLETED, 60, "confirmation")
                # each node process runs exactly one SuperNode, its own child
                supernodes = [_children(p.pid, "flower-supernode") for p in processes]
                assert [len(pids) for pids in supernodes] == [1, 1, 1]
            finally:
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                for process in processes:
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        raise
        seconds = time.monotonic() - started
        logs = [(tmp_path / f"node-{i}.log").read_text() for i in range(3)]
        for process, log_text in zip(processes, logs, strict=True):
            assert process.returncode == 0, log_text
            assert "result confirmed on chain" in log_text
            assert log_text.rstrip().endswith("stopped")
        # every node's SuperNode stopped with its node
        for (pid,) in supernodes:
            _until(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 10, f"SuperNode {pid} exit")

        job = jobs.job(job_id)
        assert job.confirmed == 3
        result = compute.result(job_id)
        assert result.model is not None
        assert json.loads(result_bytes)["model"]["digest"] == result.model.digest()
        # the coordinator's disk: no run folder is left, and neither the base model
        # (decrypted with the requester's licence) nor the trained one is in any
        # file there (logs and Flower's installed app included), raw or in base64
        coordinator_files = [f for f in (tmp_path / "superlink").rglob("*") if f.is_file()]
        assert coordinator_files
        assert not list((tmp_path / "superlink").glob("run-*"))
        for private in (weights.read_bytes(), result.model.to_bytes()):
            encoded = base64.b64encode(private)[:64]
            for file in coordinator_files:
                content = file.read_bytes()
                assert encoded not in content, file
                assert private[:256] not in content, file
        # each node let its ClientApp run the job's spec from the model token's weights only
        state = json.loads((tmp_path / "node-0.state.json").read_text())
        runnable = state["decisions"][f"{job_id}:{datasets[0]}"]["spec"]
        assert runnable == {
            "kind": "federated-train",
            "label": "label",
            "params": json.loads(PARAMS.to_json()),
            "model_checksum": "sha256:" + hashlib.sha256(weights.read_bytes()).hexdigest(),
        }
        # each node confirmed the digest of the model its own ClientApp received
        for i in range(3):
            receipt = json.loads(
                (tmp_path / f"node-{i}.state.flower" / f"job-{job_id}.json").read_text()
            )
            assert receipt["digest"] == result.model.digest()
        # the peer: scikit-learn on the pooled shards, scored on the same test split
        pooled_x = np.vstack([x for x, _ in shards])
        pooled_y = np.concatenate([y for _, y in shards])
        reference = LogisticRegression(max_iter=5000).fit(pooled_x, pooled_y).score(x_test, y_test)
        assert result.model.evaluate(x_test, y_test)["accuracy"] >= reference - 0.02
        # paid out: 60 % to the three owners, 15 % to their nodes (the owners here)
        share = ETHER * 6000 // 10_000 // 3 + ETHER * 1500 // 10_000 // 3
        for hospital in hospitals:
            assert jobs.owed(hospital.address) == share
        assert jobs.owed(modeller.address) == ETHER * 2500 // 10_000
        before = chain.balance(hospitals[0].address)
        assert jobs.withdraw(sender=hospitals[0].signer) == share
        assert chain.balance(hospitals[0].address) > before
    print(f"deployment job, nodes started to paid out: {seconds:.1f} s")


# -- a node's ClientApp takes part only in what its node accepted -----------------------


def _node_files(tmp_path: Path, accepted: dict[int, TrainParams | None]) -> list[dict[str, str]]:
    """Three nodes' files and state files, as a Node writes them, having accepted
    ``accepted`` for each node's dataset: job -> its training parameters, or
    None for an evaluation; the model token's weights are :data:`BASE`'s."""
    shards, _, _ = _split()
    configs = []
    for i, (x, y) in enumerate(shards):
        dataset = 10 + i
        folder = tmp_path / f"node-{i}"
        folder.mkdir(parents=True)
        data = write_csv(folder / "data.csv", x, y)
        decisions = {
            f"{job}:{dataset}": {
                "accepted": True,
                "reason": "",
                "spec": {
                    "kind": "federated-train" if params else "evaluate",
                    "label": "label",
                    "params": json.loads(params.to_json()) if params else {},
                    "model_checksum": "sha256:" + hashlib.sha256(BASE.to_bytes()).hexdigest(),
                },
            }
            for job, params in accepted.items()
        }
        state = folder / "state.json"
        state.write_text(json.dumps({"block": 1, "decisions": decisions, "confirmed": []}))
        node_file = folder / "node.json"
        node_file.write_text(
            json.dumps(
                {"state": str(state), "datasets": {str(dataset): str(data)}, "folder": str(folder)}
            )
        )
        configs.append({app.NODE_FILE: str(node_file)})
    return configs


def _run(
    job: int,
    params: TrainParams,
    node_configs: list[dict[str, str]],
    model: Model = BASE,
    timeout: float = 30.0,
) -> dict[str, object]:
    """A job's run (3 datasets) against ``node_configs``' ClientApps, in-process."""
    config = _federated._run_config(params, model, "train", 3, timeout)
    config |= {app.RUN_JOB: job, app.RUN_LABEL: "label"}
    with _federated._job(job):
        result, _ = _federated._run_in_process(config, node_configs, timeout + 5)
    return result


def test_a_clientapp_refuses_a_job_its_node_did_not_accept(tmp_path: Path) -> None:
    plain = TrainParams(rounds=1, secure=False)
    nodes = _node_files(tmp_path, {5: plain})
    with pytest.raises(JobFailed, match="only 0 of 3 nodes accepted job 6"):
        _run(6, plain, nodes, timeout=2.0)
    with pytest.raises(PermissionError, match="has not accepted job 6"):
        app.accepted_dataset(nodes[0][app.NODE_FILE], {app.RUN_JOB: 6})
    assert not list(tmp_path.glob("node-*/job-6.json"))  # no node took part
    # job 5, but with other parameters than the spec each node accepted
    more = TrainParams(rounds=1, secure=False, learning_rate=2.0)
    with pytest.raises(JobFailed, match="only 0 of 3 nodes accepted job 5"):
        _run(5, more, nodes, timeout=2.0)
    run_config = {app.RUN_JOB: 5, app.RUN_MODE: "train", app.RUN_LABEL: "label"}
    with pytest.raises(PermissionError, match="parameters are not job 5's"):
        app.accepted_dataset(nodes[0][app.NODE_FILE], run_config | {app.RUN_PARAMS: more.to_json()})
    with pytest.raises(PermissionError, match="only in on-chain jobs"):
        app.accepted_dataset(nodes[0][app.NODE_FILE], {})
    # job 5 with its parameters, but starting from other weights than the model token's
    other = LogisticRegressionModel.init(30, seed=2)
    with pytest.raises(JobFailed, match="only 0 of 3 nodes accepted job 5"):
        _run(5, plain, nodes, other, timeout=2.0)
    run_config |= {
        app.RUN_PARAMS: plain.to_json(),
        app.RUN_MODEL: base64.b64encode(other.to_bytes()).decode(),
    }
    with pytest.raises(PermissionError, match="not job 5's model token"):
        app.accepted_dataset(nodes[0][app.NODE_FILE], run_config)
    # the accepted job with its own parameters runs, and each node keeps its receipt;
    # a fourth node on the same SuperLink, which accepted nothing, takes no part
    stranger = _node_files(tmp_path / "other", {})[0]
    result = _run(5, plain, [stranger, *nodes])
    digests = {json.loads((tmp_path / f"node-{i}" / "job-5.json").read_text())["digest"]
               for i in range(3)}  # fmt: skip
    assert digests == set(result["node_digests"].values())  # type: ignore[attr-defined]
    assert len(digests) == 1
    assert len(result["node_digests"]) == 3  # type: ignore[arg-type]
    assert not list((tmp_path / "other").glob("node-*/job-*.json"))


# -- a node confirms only the result delivered with the model it received -----------------


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_a_node_confirms_a_delivered_result_only_for_the_model_it_received(
    market: Market,  # noqa: F811  (the fixture of test_node)
    tmp_path: Path,
) -> None:
    job_id = market.compute.request(
        "evaluate", market.datasets, model=market.model, payment=10**15,
        deadline=now(market.chain) + 3600,
    )  # fmt: skip
    nodes = []
    for node, hospital in zip(market.nodes, market.hospitals, strict=True):
        flower_node = Node(
            market.jobs, node.assets, list(node.policies.values()), sender=hospital.signer,
            state=tmp_path / f"flower-{node.address}.json",
            flower=FlowerSettings("127.0.0.1:9092"),
        )  # fmt: skip
        (decision,) = flower_node.poll()
        assert decision.accepted, decision.reason
        nodes.append(flower_node)
    base = LogisticRegressionModel.init(30, seed=1).digest()  # the model token's weights
    result = json.dumps({"job": job_id, "model": {"digest": base}}).encode()
    report = json.dumps({"job": job_id}).encode()

    def deliver(node: Node, received: str) -> None:
        # what the node's ClientApp writes: the digest it received, and the documents
        node.flower_folder.mkdir(parents=True, exist_ok=True)
        (node.flower_folder / f"job-{job_id}.json").write_text(
            json.dumps({
                "round": 1, "digest": received,
                "result": base64.b64encode(result).decode(),
                "report": base64.b64encode(report).decode(),
            })
        )  # fmt: skip

    deliver(nodes[0], "ab" * 32)  # this node received another model
    assert nodes[0].confirm_delivered() == []
    assert nodes[0].confirm_delivered() == []  # refused once and for all
    for node in nodes[1:]:
        deliver(node, base)
        assert node.confirm_delivered() == [job_id]
        assert node.confirm_delivered() == []  # nothing twice
    job = market.jobs.job(job_id)
    assert job.confirmed == 2
    assert job.status is JobStatus.RUNNING  # the third node never confirmed


def test_a_bad_flower_section_is_one_line(tmp_path: Path) -> None:
    # one check of the superlink (FlowerSettings'), named as in the file
    config = tmp_path / "node.toml"
    for bad in ("nowhere", "fe80::1:9092", "host:99999"):
        config.write_text(
            f'key = "x"\n[[datasets]]\ntoken = 1\ndata = "d.csv"\n[flower]\nsuperlink = "{bad}"\n'
        )
        error = one_line_error(run("compute", "node", "--config", str(config), home=tmp_path))
        assert "flower.superlink" in error
        assert f"'{bad}'" in error
        with pytest.raises(ConfigError) as caught:
            FlowerSettings(bad)
        assert caught.value.value == bad
    for good in ("coordinator.example.org:9092", "[::1]:9092", "127.0.0.1:1"):
        assert FlowerSettings(good).superlink == good


def test_an_evaluation_is_delivered_to_the_nodes_that_accepted_it(tmp_path: Path) -> None:
    # The ServerApp and ClientApp of a deployment, run in-process: the ServerApp
    # hands the coordinator the model (trained.json), waits for its documents,
    # and sends them to the nodes with the final model.
    nodes = _node_files(tmp_path, {7: None})
    model = BASE
    folder = tmp_path / "run"
    config = _federated._run_config(TrainParams(rounds=1), model, "evaluate", 3, 30.0)
    config |= {
        app.RUN_JOB: 7,
        app.RUN_LABEL: "label",
        app.RUN_RESULT: str(folder),
        app.RUN_DELIVER: True,
    }
    documents = {"result": base64.b64encode(b'{"job":7}').decode(), "report": "e30="}
    handed: dict[str, object] = {}

    def coordinator() -> None:
        _until(lambda: (folder / app.TRAINED_FILE).exists(), 30, "trained.json")
        handed.update(json.loads((folder / app.TRAINED_FILE).read_text()))
        (folder / app.DOCUMENTS_FILE).write_text(json.dumps({"status": "ok", **documents}))

    result = _run_beside(coordinator, config, nodes, 7, 30.0)
    assert result["status"] == "ok"
    assert set(result["node_digests"].values()) == {model.digest()}  # type: ignore[attr-defined]
    for i in range(3):
        delivered = json.loads((tmp_path / f"node-{i}" / "job-7.json").read_text())
        assert delivered == {"round": 1, "digest": model.digest(), **documents}
    # the evaluation the coordinator got: the base model's accuracy over the pooled
    # shards, by scikit-learn (the peer), within SecAgg+'s quantization
    shards, _, _ = _split()
    pooled_x = np.vstack([x for x, _ in shards])
    pooled_y = np.concatenate([y for _, y in shards])
    predicted = (pooled_x @ model.weights + model.bias > 0).astype(int)
    (only,) = handed["rounds"]  # type: ignore[misc]
    assert only["accuracy"] == pytest.approx(accuracy_score(pooled_y, predicted), abs=1e-4)


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_a_node_starts_its_supernode_again_after_it_is_killed(
    market: Market,  # noqa: F811  (the fixture of test_node)
    tmp_path: Path,
    free_port: int,
) -> None:
    node = market.nodes[0]
    flower_node = Node(
        market.jobs, node.assets, list(node.policies.values()), sender=market.hospitals[0].signer,
        state=tmp_path / "state.json", flower=FlowerSettings(f"127.0.0.1:{free_port}"),
    )  # fmt: skip
    assert flower_node.revive_supernode() is None  # not started
    with flower_node.supernode() as running:
        assert running.process is not None
        first = running.process.pid
        assert flower_node.revive_supernode() is None  # running (it retries the SuperLink)
        os.kill(first, signal.SIGKILL)
        running.process.wait(timeout=10)
        assert flower_node.revive_supernode() == -signal.SIGKILL
        assert running.process.pid != first
        assert running.process.poll() is None
        again = running.process.pid
    assert not Path(f"/proc/{again}").exists()  # stopped with the block
    node_file = json.loads((flower_node.flower_folder / "node.json").read_text())
    assert node_file == {
        "state": str((tmp_path / "state.json").resolve()),
        "datasets": {str(d): str(p.data.resolve()) for d, p in node.policies.items()},
        "folder": str(flower_node.flower_folder),
    }


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_a_deployment_coordinator_refuses_what_it_cannot_run(
    market: Market,  # noqa: F811  (the fixture of test_node)
) -> None:
    with pytest.raises(InvalidJob) as caught:
        Coordinator(market.jobs, market.compute.assets, runtime="deployment")
    assert caught.value.field == "deployment"
    with pytest.raises(InvalidJob) as caught:
        Coordinator(market.jobs, market.compute.assets, runtime="ray")  # type: ignore[arg-type]
    assert caught.value.value == "ray"
    with pytest.raises(ConfigError) as bad:
        FlowerSettings("9092")
    assert bad.value.value == "9092"
    # statistics are the nodes' own releases: not a Flower run
    query = StatsQuery(column="f0", statistic="count", epsilon=0.5)
    job_id = market.compute.request(
        "stats", market.datasets, params=query, payment=1, deadline=now(market.chain) + 3600
    )
    for node in market.nodes:
        node.poll()
    deployment = FlowerDeployment()  # never started: the job is refused before any run
    coordinator = Coordinator(
        market.jobs, market.compute.assets, runtime="deployment", deployment=deployment
    )
    with pytest.raises(InvalidJob) as caught:
        coordinator.run(job_id)
    assert caught.value.value == "stats"
    assert market.jobs.job(job_id).confirmed == 0
