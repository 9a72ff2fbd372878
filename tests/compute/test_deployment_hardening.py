"""A Flower deployment's coordinator and nodes under bad input, outages and restarts.

What the deployment writes on the coordinator's disk (sealed, owner-only, removed
after the run), what Flower's processes see of troika's secrets, a node that is
asked before it has recorded its acceptance, a node that meets a malformed
delivery or an outage, and settings that would expose a SuperLink.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import signal
import stat
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.compute.test_deployment_nodes import BASE, _node_files, _run_beside, _until
from tests.compute.test_node import Market, market, now  # noqa: F401
from troika._closing import Closing
from troika._errors import ConfigError, DecryptionError, IPFSUnavailable, JobFailed, ResultMismatch
from troika.assets import Assets
from troika.assets._crypto import decrypt_bytes, new_content_key
from troika.compute import _federated
from troika.compute import _flower_app as app
from troika.compute._federated import FlowerDeployment, SuperNode, TrainParams
from troika.compute._node import FlowerSettings, Node

# -- the coordinator's disk ------------------------------------------------------------


def test_the_files_a_run_shares_with_its_coordinator_are_sealed_and_owner_only(
    tmp_path: Path,
) -> None:
    # The ServerApp of a deployment, run in-process with a run key: the trained
    # model it hands the coordinator, the documents it reads back and its result
    # are AES-GCM ciphertexts (troika's own format), readable only with the key.
    nodes = _node_files(tmp_path, {7: None})
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    key = new_content_key()
    config = _federated._run_config(TrainParams(rounds=1), BASE, "evaluate", 3, 30.0)
    config |= {
        app.RUN_JOB: 7,
        app.RUN_LABEL: "label",
        app.RUN_RESULT: str(folder),
        app.RUN_DELIVER: True,
        app.RUN_SEAL: base64.b64encode(key).decode(),
    }
    documents = {"result": base64.b64encode(b'{"job":7}').decode(), "report": "e30="}
    seen: dict[str, Any] = {}

    def coordinator() -> None:
        trained = folder / app.TRAINED_FILE
        _until(trained.exists, 30, "trained.json")
        seen["raw"], seen["mode"] = trained.read_bytes(), stat.S_IMODE(trained.stat().st_mode)
        seen["trained"] = app.read_result(trained, key)
        app._write_result(str(folder), {"status": "ok", **documents}, app.DOCUMENTS_FILE, key)

    result = _run_beside(coordinator, config, nodes, 7, 30.0)
    assert result["status"] == "ok"
    weights = seen["trained"]["model"]
    assert base64.b64decode(weights) == BASE.to_bytes()  # the evaluated model, opened
    assert weights.encode() not in seen["raw"]
    assert base64.b64decode(weights) not in seen["raw"]
    with pytest.raises(UnicodeDecodeError):  # not even text
        seen["raw"].decode()
    assert seen["mode"] == 0o600
    with pytest.raises(DecryptionError):
        decrypt_bytes(seen["raw"], new_content_key())
    written = folder / app.RESULT_FILE
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert app.read_result(written, key)["status"] == "ok"
    assert weights.encode() not in written.read_bytes()
    for i in range(3):  # the nodes got the coordinator's documents through the seal
        delivered = json.loads((tmp_path / f"node-{i}" / "job-7.json").read_text())
        assert delivered == {"round": 1, "digest": BASE.digest(), **documents}


def test_a_run_that_fails_leaves_no_run_folder_and_a_restart_reuses_the_folder(
    tmp_path: Path,
) -> None:
    # A coordinator restarted on the same folder= finds the old run's folder;
    # the run is named by job and a random suffix, and removed when it fails
    # (here: no SuperLink was ever started, so `flwr run` fails).
    (tmp_path / "run-1" / "app" / "troikajob").mkdir(parents=True)  # an older version's
    (tmp_path / "run-7-000000000000").mkdir()
    link = FlowerDeployment(folder=tmp_path, run_timeout=5.0)
    link._open_folder()
    config = _federated._run_config(TrainParams(rounds=1), BASE, "train", 3, 5.0)
    config[app.RUN_JOB] = 7
    with pytest.raises(JobFailed, match="flwr run failed"):
        link.run(config)
    assert sorted(p.name for p in tmp_path.glob("run-*")) == ["run-1", "run-7-000000000000"]
    assert isinstance(link, Closing)
    link.close()


def test_a_superlink_beyond_loopback_needs_certificates() -> None:
    for host in ("0.0.0.0", "::", "10.1.2.3", "coordinator.example"):  # noqa: S104
        with pytest.raises(ConfigError) as caught:
            FlowerDeployment(host=host)
        assert caught.value.value == host
        assert caught.value.field == "host"
    for host in ("127.0.0.1", "::1", "localhost"):
        FlowerDeployment(host=host)  # not started


# -- what Flower's processes see --------------------------------------------------------


def _log_descriptors(path: Path) -> int:
    return sum(1 for fd in Path("/proc/self/fd").iterdir() if os.path.realpath(fd) == str(path))


def test_a_supernode_sees_no_troika_secret_and_keeps_one_log_open(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TROIKA_KEY_PASSWORD", "hunter2-keystore")
    monkeypatch.setenv("TROIKA_PINNING_TOKEN", "hunter2-pinning")
    monkeypatch.setenv("TROIKA_RPC_URL", "http://127.0.0.1:8545")  # not a secret: kept
    node_file = tmp_path / "node.json"
    node_file.write_text("{}")
    with SuperNode(f"127.0.0.1:{free_port}", node_file, tmp_path / "flower") as running:
        assert running.process is not None
        proc = Path(f"/proc/{running.process.pid}/environ")
        _until(lambda: b"PATH=" in proc.read_bytes(), 30, "the SuperNode's exec")
        environ = proc.read_bytes().split(b"\0")
        assert not [v for v in environ if b"hunter2" in v]
        assert b"TROIKA_RPC_URL=http://127.0.0.1:8545" in environ
        log = (tmp_path / "flower" / "supernode.log").resolve()
        assert _log_descriptors(log) == 1
        for _ in range(2):  # killed and started again: still one descriptor on the log
            os.kill(running.process.pid, signal.SIGKILL)
            running.process.wait(timeout=10)
            assert running.ensure_running() == -signal.SIGKILL
            assert _log_descriptors(log) == 1
    assert _log_descriptors(log) == 0


# -- a node asked before it recorded its acceptance ------------------------------------


def test_a_node_that_said_no_is_asked_again(tmp_path: Path) -> None:
    # Node 2 has not recorded its acceptance of job 5 when the ServerApp first
    # asks (its state file shows no decision); it records it a moment later.
    plain = TrainParams(rounds=1, secure=False)
    nodes = _node_files(tmp_path, {5: plain})
    state = tmp_path / "node-2" / "state.json"
    accepted = state.read_text()
    state.write_text(json.dumps({"block": 1, "decisions": {}, "confirmed": []}))
    config = _federated._run_config(plain, BASE, "train", 3, 10.0)
    config |= {app.RUN_JOB: 5, app.RUN_LABEL: "label"}

    def accept_later() -> None:
        time.sleep(1.0)
        state.write_text(accepted)

    result = _run_beside(accept_later, config, nodes, 5, 15.0)
    assert result["status"] == "ok"
    assert len(result["node_digests"]) == 3


def test_a_hostile_model_spec_is_a_value_error_not_a_crash() -> None:
    owner = app._Owner(lambda: (np.zeros((1, 30)), np.zeros(1)), None)
    deep = {"model-spec": "[" * 100_000, "troika-mode": "evaluate", "round": 1}
    with pytest.raises(ValueError, match="nest"):
        owner.fit([], deep)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nest"):
        owner.evaluate([], deep)  # type: ignore[arg-type]


# -- a node's own checks --------------------------------------------------------------------


def _flower_node(
    market: Market,  # noqa: F811  (the fixture of test_node, imported)
    tmp_path: Path,
    **settings: Any,
) -> Node:
    node = market.nodes[0]
    return Node(
        market.jobs, node.assets, list(node.policies.values()), sender=market.hospitals[0].signer,
        state=tmp_path / "flower-state.json",
        flower=FlowerSettings("127.0.0.1:9092", **settings),
    )  # fmt: skip


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_a_malformed_delivery_is_refused_and_the_node_keeps_going(
    market: Market,  # noqa: F811
    tmp_path: Path,
) -> None:
    node = _flower_node(market, tmp_path)
    ids = []
    for _ in range(5):
        ids.append(
            market.compute.request(
                "evaluate",
                market.datasets,
                model=market.model,
                payment=10**15,
                deadline=now(market.chain) + 3600,
            )
        )
    assert all(decision.accepted for decision in node.poll())
    base = BASE.digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    deliveries: dict[int, Any] = {
        ids[0]: {"digest": base, "result": "%%% not base64", "report": b64(b"{}")},
        ids[1]: {"digest": base, "result": b64(b"not json"), "report": b64(b"{}")},
        ids[2]: {"digest": base, "result": b64(b"[1, 2]"), "report": b64(b"{}")},
        ids[3]: {"digest": base, "result": b64(b'{"job": %d, "model": 3}' % ids[3])},
        ids[4]: ["result"],
    }
    node.flower_folder.mkdir(parents=True, exist_ok=True)
    for job_id, delivered in deliveries.items():
        (node.flower_folder / f"job-{job_id}.json").write_text(json.dumps(delivered))
    assert node.confirm_delivered() == []  # no exception: every one refused
    assert node.confirm_delivered() == []
    state = json.loads((tmp_path / "flower-state.json").read_text())
    assert sorted(state["refused"]) == sorted(ids)
    # the documents themselves, straight to confirm
    for bad in (b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100_000):
        with pytest.raises(ResultMismatch):
            node.confirm(ids[1], bad, b"{}")
    with pytest.raises(binascii.Error):  # what the first delivery's base64 is (the peer)
        base64.b64decode("%%% not base64", validate=True)
    assert all(market.jobs.job(job_id).confirmed == 0 for job_id in ids)


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_a_secure_only_node_refuses_a_plain_training(
    market: Market,  # noqa: F811
    tmp_path: Path,
) -> None:
    secure_only = _flower_node(market, tmp_path, require_secure=True)
    plain = market.compute.request(
        "federated-train", market.datasets, model=market.model,
        params=TrainParams(rounds=1, secure=False), payment=10**15,
        deadline=now(market.chain) + 3600,
    )  # fmt: skip
    secure = market.compute.request(
        "federated-train", market.datasets, model=market.model,
        params=TrainParams(rounds=1), payment=10**15, deadline=now(market.chain) + 3600,
    )  # fmt: skip
    decisions = {d.job_id: d for d in secure_only.poll()}
    assert not decisions[plain].accepted
    assert decisions[plain].reason.startswith("secure=False: ")
    assert "only under SecAgg+" in decisions[plain].reason
    assert market.jobs.job(plain).accepted == 0  # nothing escrowed for a run it would refuse
    assert decisions[secure].accepted, decisions[secure].reason


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_an_outage_while_a_node_decides_is_no_refusal(
    market: Market,  # noqa: F811
    tmp_path: Path,
) -> None:
    plain = market.compute.request(
        "federated-train", market.datasets, model=market.model,
        params=TrainParams(rounds=1, secure=False), payment=10**15,
        deadline=now(market.chain) + 3600,
    )  # fmt: skip

    # fault_injection: the store answers the job's spec but not the model's
    # metadata (an IPFS outage mid-decision, which the real store cannot be told to do)
    node = market.nodes[1]
    store = node.assets.store
    specs: set[object] = set()  # the jobs' specs: served; the rest (metadata): not

    class Flaky:
        down = True

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def get(self, cid: Any) -> bytes:
            if self.down and cid not in specs:
                raise IPFSUnavailable("http://127.0.0.1:5001", "fault injection")
            return store.get(cid)

    flaky = Flaky()
    assets = Assets(
        market.chain, flaky, market.registry,  # type: ignore[arg-type]
        identity=market.hospitals[1], minter=market.chain.default_sender,
    )  # fmt: skip
    flower = Node(
        market.jobs, assets, list(node.policies.values()), sender=market.hospitals[1].signer,
        state=tmp_path / "flaky-state.json", flower=FlowerSettings("127.0.0.1:9092"),
    )  # fmt: skip
    job_id = market.compute.request(
        "evaluate", market.datasets, model=market.model, payment=10**15,
        deadline=now(market.chain) + 3600,
    )  # fmt: skip
    from troika.assets._registry import commitment_cid

    specs.update(commitment_cid(market.jobs.job(j).params_digest) for j in (plain, job_id))
    for _ in range(2):  # the outage: no decision, however often the node polls
        with pytest.raises(IPFSUnavailable):
            flower.poll()
        saved = tmp_path / "flaky-state.json"
        assert not saved.exists() or json.loads(saved.read_text())["decisions"] == {}
    flaky.down = False
    decisions = {d.job_id: d for d in flower.poll()}
    assert set(decisions) == {plain, job_id}
    assert all(d.accepted for d in decisions.values()), decisions
    # the node loses its state (a crash before it was saved) during an outage:
    # it finds its acceptances on chain, and records them once the store answers
    flaky.down = True
    recovered = Node(
        market.jobs, assets, list(node.policies.values()), sender=market.hospitals[1].signer,
        state=tmp_path / "recovered-state.json", flower=FlowerSettings("127.0.0.1:9092"),
    )  # fmt: skip
    with pytest.raises(IPFSUnavailable):
        recovered.poll()
    flaky.down = False
    again = {d.job_id: d for d in recovered.poll()}
    assert {j: (d.accepted, d.reason) for j, d in again.items()} == {
        plain: (True, ""),
        job_id: (True, ""),
    }
    assert market.jobs.job(job_id).accepted == 1  # accepted once, not twice
