"""``troika asset``, run as a user runs it, on a real anvil and a real Kubo."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from tests._services import Anvil, Kubo
from tests.cli.test_cli import one_line_error, run

from troika.chain import Chain, Keystore
from troika.did import EthrRegistry
from troika.did._identity import Identities

pytestmark = pytest.mark.kubo

PASSWORD = "correct horse"


def kubo_bytes(kubo: Kubo, *args: str) -> bytes:
    """The raw stdout of the ``ipfs`` CLI (Kubo.cli decodes and strips it)."""
    done = subprocess.run(
        [str(kubo.binary), *args],
        capture_output=True,
        env=kubo.environment(),
        timeout=60,
        check=True,
    )
    return done.stdout


def test_mint_show_list_license_fetch(anvil: Anvil, kubo: Kubo, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        "TROIKA_RPC_URL": anvil.url,
        "TROIKA_IPFS_API": kubo.api_url,
        "TROIKA_KEY_PASSWORD": PASSWORD,
    }
    # two identities with published DID documents, in the CLI's own home and keystore
    with Chain.connect(anvil.url, chain_id=anvil.chain_id, home=home) as chain:
        identities = Identities(chain, Keystore(home, scrypt_n=2**10), EthrRegistry.deploy(chain))
        owner = identities.create("owner", PASSWORD, kind="person")
        reader = identities.create("reader", PASSWORD, kind="agent")
        for someone in (owner, reader):
            chain.transfer(someone.address, 10**18)
    data = os.urandom(700_000)
    source = tmp_path / "vitals.csv"
    source.write_bytes(data)

    minted = run(
        "asset", "mint", "dataset", str(source), "--name", "ward 7", "--media-type", "text/csv",
        "--royalty", "500", "--key", "owner", "--json", home=home, env=env,
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    token = json.loads(minted.stdout)
    assert token["owner"] == owner.address
    assert token["envelope"] is not None

    shown = run("asset", "show", str(token["token_id"]), "--json", home=home, env=env)
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["encrypted"] is True
    assert info["size"] == len(data)
    assert info["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (info["royalty_bps"], info["royalty_receiver"]) == (500, owner.address)
    # Kubo holds the metadata block, and it is what the token commits to on chain
    metadata = kubo_bytes(kubo, "block", "get", info["metadata"])
    with Chain.connect(anvil.url, chain_id=anvil.chain_id, home=home) as chain:
        registry = chain.deployment("AssetRegistry")
        assert registry.call("tokenURI", token["token_id"]) == f"ipfs://{info['metadata']}"
        assert registry.call("commitmentOf", token["token_id"]) == hashlib.sha256(metadata).digest()
    assert json.loads(metadata)["name"] == "ward 7"
    # what Kubo pinned is ciphertext
    assert data[:256] not in kubo_bytes(kubo, "cat", info["content"])[:4096]

    listed = run("asset", "list", "--key", "owner", "--json", home=home, env=env)
    assert json.loads(listed.stdout) == {"owner": owner.address, "tokens": [token["token_id"]]}

    out = tmp_path / "out.csv"
    got = run(
        "asset", "fetch", str(token["token_id"]), "-o", str(out), "--key", "owner",
        home=home, env=env,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == data

    # the reader may not, until licensed; the licence names it by its DID
    denied = run(
        "asset", "fetch", str(token["token_id"]), "-o", str(tmp_path / "no.csv"),
        "--key", "reader", home=home, env=env,
    )  # fmt: skip
    assert "neither owns the token nor holds an unexpired licence" in one_line_error(denied)
    granted = run(
        "asset", "license", "grant", str(token["token_id"]), str(reader.did),
        "--until", "2099-01-01", "--key", "owner", home=home, env=env,
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    licensed = tmp_path / "licensed.csv"
    got = run(
        "asset", "fetch", str(token["token_id"]), "-o", str(licensed), "--key", "reader",
        home=home, env=env,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert licensed.read_bytes() == data
    revoked = run(
        "asset", "license", "revoke", str(token["token_id"]), str(reader.did), "--key", "owner",
        home=home, env=env,
    )  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    denied = run(
        "asset", "fetch", str(token["token_id"]), "-o", str(tmp_path / "no.csv"),
        "--key", "reader", home=home, env=env,
    )  # fmt: skip
    one_line_error(denied)
    assert not (tmp_path / "no.csv").exists()


def test_bad_input_is_one_line(anvil: Anvil, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TROIKA_RPC_URL": anvil.url, "TROIKA_KEY_PASSWORD": PASSWORD}
    # no registry recorded for this home's chain yet: reading does not deploy one
    assert "AssetRegistry" in one_line_error(run("asset", "show", "1", home=home, env=env))
    missing = run(
        "asset", "mint", "dataset", str(tmp_path / "nope.csv"), "--name", "x", "--public",
        home=home, env=env,
    )  # fmt: skip
    assert "nope.csv" in one_line_error(missing)
    source = tmp_path / "d.csv"
    source.write_text("a\n")
    invalid = run(
        "asset", "mint", "dataset", str(source), "--name", "", "--public", home=home, env=env
    )
    assert "name" in one_line_error(invalid)
    assert run(
        "asset", "mint", "dataset", str(source), "--name", "x", "--royalty", "20000",
        home=home, env=env,
    ).returncode == 2  # fmt: skip
    # the first mint deployed the registry, even though it failed before minting
    assert one_line_error(run("asset", "show", "99", home=home, env=env)) == (
        "error: no asset token 99"
    )
    bad_date = run(
        "asset", "license", "grant", "1", "0x" + "11" * 20, "--until", "soon", home=home, env=env
    )
    assert bad_date.returncode == 2
