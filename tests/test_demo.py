"""``troika demo``, run as a user runs it (a real process), on the embedded
defaults and on anvil with a real Kubo node; its summary checked against
the story and against a peer (scikit-learn) computed here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from troika.ipfs import CID

HOSPITALS = ["st-mary", "city-general", "northside"]


def run_demo(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROIKA_") and k != "COLUMNS"}
    # a TROIKA_HOME the demo must not touch (it uses a temporary home)
    env |= {"TROIKA_HOME": str(home), "TROIKA_CONFIG": str(home / "none.toml")}
    return subprocess.run(
        [sys.executable, "-m", "troika.cli", "demo", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module", params=["embedded", "anvil+kubo"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("home")
    args: list[str] = []
    if request.param == "anvil+kubo":
        anvil = request.getfixturevalue("anvil")
        kubo = request.getfixturevalue("kubo")
        args = ["--rpc", anvil.url, "--ipfs", kubo.api_url]
    result = run_demo(*args, home=home)
    assert result.returncode == 0, result.stderr
    assert list(home.iterdir()) == []  # the user's home is never touched
    return request.param, json.loads(result.stdout), result.stderr


@pytest.fixture(scope="module")
def peer_accuracy() -> float:
    """scikit-learn's logistic regression on the whole training split (the
    union of the hospitals' shards), scored on the same held-out 20 %."""
    features, labels = load_breast_cancer(return_X_y=True)
    features = (features - features.mean(0)) / features.std(0)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.2, stratify=labels, random_state=0
    )
    return float(LogisticRegression(max_iter=5000).fit(x_train, y_train).score(x_test, y_test))


def test_it_runs_where_it_was_told(demo: Any) -> None:
    backend, summary, panels = demo
    if backend == "embedded":
        assert summary["embedded"] is True
        assert summary["chain_url"] == "embedded:"
        assert summary["ipfs"].endswith("/ipfs")
    else:
        assert summary["embedded"] is False
        assert summary["chain_id"] == 31337
        assert summary["ipfs"].startswith("http://127.0.0.1:")
    # with --json the progress panels go to stderr, the summary alone to stdout
    for title in ("identities", "dataset NFTs", "SecAgg+", "derived model NFT", "every DID"):
        assert title in panels
    # (its 90-second goal is bench/demo_time.py's to measure: tests assert no timing)
    assert set(summary["steps"]) >= {"the set-up", "every DID resolves"}


def test_tokens_are_minted_encrypted_and_the_derived_model_names_its_parents(demo: Any) -> None:
    _, summary, _ = demo
    datasets = summary["datasets"]
    assert [d["owner_role"] for d in datasets] == HOSPITALS
    owners = {i["role"]: i["address"] for i in summary["identities"]}
    tokens = [*datasets, summary["model"], summary["derived"]]
    assert len({t["token_id"] for t in tokens}) == 5
    for token in tokens:
        assert token["encrypted"] is True
        assert token["owner"] == owners[token["owner_role"]]
        CID.parse(token["metadata_cid"])
        CID.parse(token["content_cid"])
    assert sum(d["rows"] for d in datasets) == 455  # 80 % of 569, in three shards
    assert summary["derived"]["owner_role"] == "agent"
    assert summary["derived"]["parents"] == [
        *(d["token_id"] for d in datasets),
        summary["model"]["token_id"],
    ]


def test_the_job_completed_under_secagg_and_its_result_was_verified(demo: Any) -> None:
    _, summary, _ = demo
    job = summary["job"]
    assert job["status"] == "completed"
    assert job["secure"] is True
    assert job["num_nodes"] == 3
    assert job["num_shares"] == 3
    assert job["reconstruction_threshold"] == 2
    assert job["verified"] is True
    CID.parse(job["result_cid"])


def test_accuracy_is_within_two_points_of_the_centralised_peer(
    demo: Any, peer_accuracy: float
) -> None:
    _, summary, _ = demo
    assert summary["test_rows"] == 114
    assert abs(summary["baseline_accuracy"] - peer_accuracy) < 0.01
    assert summary["accuracy"] >= peer_accuracy - 0.02


def test_the_payment_split_adds_up(demo: Any) -> None:
    _, summary, _ = demo
    payment = summary["job"]["payment"]
    paid = {p["role"]: p for p in summary["payments"]}
    owner_share = payment * 6000 // 10_000 // 3 + payment * 1500 // 10_000 // 3
    for hospital in HOSPITALS:
        assert paid[hospital]["credited"] == owner_share
    assert paid["model owner"]["credited"] == payment * 2500 // 10_000
    assert paid["agent"]["credited"] == summary["dust"]
    assert sum(p["credited"] for p in paid.values()) == payment == summary["paid_out"]
    assert all(p["withdrawn"] == p["credited"] for p in paid.values())


def test_every_did_resolves(demo: Any) -> None:
    _, summary, _ = demo
    identities = {i["role"]: i for i in summary["identities"]}
    assert sorted(identities) == sorted(["person", "device", "agent", *HOSPITALS, "model owner"])
    chain_id = hex(summary["chain_id"])
    for identity in identities.values():
        assert identity["did"] == f"did:ethr:{chain_id}:{identity['address']}"
        assert identity["key_agreement"] == 1
        assert identity["profile_kind"] == identity["kind"]
    assert identities["device"]["kind"] == "device"
    assert identities["agent"]["kind"] == "agent"
    for controlled in ("device", "agent"):
        assert identities[controlled]["controller"] == identities["person"]["did"]


def test_the_demo_data_split_is_the_peers(peer_accuracy: float) -> None:
    from troika._demo import demo_data

    shards, (x_test, y_test), names = demo_data()
    x_union = np.concatenate([x for x, _ in shards])
    y_union = np.concatenate([y for _, y in shards])
    mine = LogisticRegression(max_iter=5000).fit(x_union, y_union).score(x_test, y_test)
    assert abs(mine - peer_accuracy) < 0.01
    assert len(names) == x_test.shape[1] == 30
    assert len(y_test) == 114
