"""troika.Troika: the layers wired from configuration, on the embedded defaults
(in-process EVM, LocalStore under the home) and on anvil with a real Kubo node."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import troika
from tests._services import Anvil, Kubo
from troika import AssetPermissionDenied, Settings, Troika
from troika.assets import DatasetMetadata
from troika.chain import Keystore
from troika.did import KeyPair
from troika.ipfs import KuboStore, LocalStore

ETHER = 10**18


@pytest.fixture(params=["embedded", "anvil+kubo"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Troika]:
    keystore = Keystore(tmp_path, scrypt_n=2**10)  # throwaway keys
    if request.param == "embedded":
        settings = Settings(home=tmp_path, rpc_url=None, ipfs_api=None)
    else:
        anvil: Anvil = request.getfixturevalue("anvil")
        kubo: Kubo = request.getfixturevalue("kubo")
        settings = Settings(
            home=tmp_path, rpc_url=anvil.url, chain_id=anvil.chain_id, ipfs_api=kubo.api_url
        )
    with Troika(settings, keystore=keystore) as t:
        yield t


def test_the_parts_follow_the_settings(client: Troika, tmp_path: Path) -> None:
    if client.settings.rpc_url is None:
        assert client.is_embedded
        assert isinstance(client.store, LocalStore)
        assert client.store.path == tmp_path / "ipfs"
    else:
        assert client.chain.url == client.settings.rpc_url
        assert client.chain.chain_id == 31337
        assert isinstance(client.store, KuboStore)
    assert client.keystore.home == tmp_path
    # contracts are found or deployed once, then the same objects come back
    assert client.registry is client.registry
    assert client.jobs is client.jobs
    assert client.jobs.contract.call("registry") == client.registry.address
    assert (
        client.did_registry.address == client.chain.deployments.get("EthereumDIDRegistry").address
    )  # type: ignore[union-attr]


def test_identities_mint_fetch_and_resolve(client: Troika, tmp_path: Path) -> None:
    alice = client.identities.create("alice", "pw", kind="person")
    watch = client.identities.create("alice-watch", "pw", kind="device", controller=alice)
    agent = client.identities.create("agent", "pw", kind="agent", controller=alice)
    # a new identity has no coin: its DID changes were relayed
    assert client.chain.balance(agent.address) == 0
    client.fund(alice, ETHER)
    assert client.chain.balance(alice.address) == ETHER

    # every DID resolves on this chain, with its key-agreement key and controller
    for identity in (alice, watch, agent):
        document = client.did.resolve_document(identity.did)
        assert document.id == str(identity.did)
        assert document.methods_for("keyAgreement")
    # the person owns the device's DID
    controller = next(
        m for m in client.did.resolve_document(watch.did).verification_method
        if m.id.endswith("#controller")
    )  # fmt: skip
    assert controller.blockchain_account_id is not None
    assert controller.blockchain_account_id.endswith(alice.address)
    pair = KeyPair.generate("Ed25519")
    assert client.did.resolve(pair.did).did_document.id == str(pair.did)
    assert client.did.resolve("did:ethr:0x1:0x" + "00" * 20).error == "unknownNetwork"

    # an encrypted dataset minted (the dev account pays the mint) and fetched back
    shard = tmp_path / "shard.csv"
    shard.write_text("age,label\n41,1\n57,0\n")
    assets = client.assets(alice)
    minted = assets.mint_dataset(
        shard, DatasetMetadata(name="ward 7", properties={"media_type": "text/csv"})
    )
    assert client.registry.owner_of(minted.token_id) == alice.address
    assert minted.envelope_cid is not None
    assert client.ipfs.get(minted.content_cid) != shard.read_bytes()  # ciphertext
    assert assets.fetch(minted.token_id, tmp_path / "copy.csv").read_bytes() == shard.read_bytes()
    with pytest.raises(AssetPermissionDenied):
        client.assets(agent).fetch(minted.token_id, tmp_path / "no.csv", identity=agent)

    # ipfs bound to the store
    cid = client.ipfs.add(b"hello\n")
    assert str(cid) == "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
    assert client.store.has(cid)
    assert client.ipfs.get_to(cid, tmp_path / "hello.txt").read_bytes() == b"hello\n"


def test_embedded_ignores_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROIKA_RPC_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("TROIKA_IPFS_API", "http://127.0.0.1:1")
    with Troika.embedded(tmp_path) as t:
        assert t.settings.rpc_url is None
        assert t.settings.ipfs_api is None
        assert t.is_embedded
        assert repr(t) == f"Troika(chain='embedded', ipfs={str(tmp_path / 'ipfs')!r})"


def test_making_a_client_does_no_io(tmp_path: Path) -> None:
    # a node that is not there: nothing is reached until a part is used
    settings = Settings(home=tmp_path, rpc_url="http://127.0.0.1:1", ipfs_api=None)
    t = Troika(settings)
    with pytest.raises(troika.RPCUnavailable):
        _ = t.chain
    t.close()


def test_an_injected_chain_and_store_are_used_and_left_open(tmp_path: Path) -> None:
    from troika.chain import Chain

    chain = Chain.embedded()
    store = LocalStore(tmp_path / "elsewhere")
    with Troika(Settings(home=tmp_path), chain=chain, store=store) as t:
        assert t.chain is chain
        assert t.store is store
        assert t.ipfs.add(b"x") in store.pins()
    assert chain.block_number >= 0  # still usable


def test_async_twin_on_the_embedded_defaults(tmp_path: Path) -> None:
    pair = KeyPair.generate("Ed25519")

    async def main() -> tuple[bytes, str, str, str, int]:
        async with troika.AsyncTroika.embedded(tmp_path, scrypt_n=2**10) as t:
            cid = await t.ipfs.add(b"hello\n")
            content = await t.ipfs.get(cid)
            did = await t.did()
            resolved = await did.resolve_document(pair.did)
            alice = await (await t.identities()).create("alice", "pw", kind="person")
            document = await did.resolve_document(alice.did)
            chain = await t.chain()
            return content, resolved.id, document.id, str(alice.did), await chain.block_number()

    content, key_did, document_id, alice_did, height = asyncio.run(main())
    assert (content, key_did, document_id) == (b"hello\n", str(pair.did), alice_did)
    assert height == 3  # the registry deployed on first use, then alice's two signed changes


def test_async_twin_mints_and_resolves_what_the_sync_client_made(
    anvil: Anvil, kubo: Kubo, tmp_path: Path
) -> None:
    # On anvil: an embedded chain lives inside one client, so the twins could not share it.
    settings = Settings(
        home=tmp_path, rpc_url=anvil.url, chain_id=anvil.chain_id, ipfs_api=kubo.api_url
    )
    with Troika(settings, keystore=Keystore(tmp_path, scrypt_n=2**10)) as client:
        _mint_with_the_async_twin(client, tmp_path)


def _mint_with_the_async_twin(client: Troika, tmp_path: Path) -> None:
    alice = client.identities.create("alice", "pw", kind="person")
    client.fund(alice, ETHER)
    _ = client.registry  # deployed and recorded under the shared home
    shard = tmp_path / "shard.csv"
    shard.write_text("age,label\n41,1\n")
    metadata = DatasetMetadata(name="ward 9", properties={"media_type": "text/csv"})

    async def main() -> tuple[int, bytes, str]:
        async with troika.AsyncTroika(client.settings) as t:
            assert (await t.registry()).address == client.registry.address
            assets = await t.assets(alice)
            minted = await assets.mint_dataset(shard, metadata)
            copy = await assets.fetch(minted.token_id, tmp_path / "copy.csv")
            document = await (await t.did()).resolve_document(alice.did)
            return minted.token_id, copy.read_bytes(), document.id

    token_id, content, did = asyncio.run(main())
    assert client.registry.owner_of(token_id) == alice.address
    assert content == shard.read_bytes()
    assert did == str(alice.did)


def test_async_twin_mints_on_the_embedded_defaults(tmp_path: Path) -> None:
    shard = tmp_path / "rows.csv"
    shard.write_text("a,b\n1,2\n")
    metadata = DatasetMetadata(name="rows", properties={"media_type": "text/csv"})

    async def main() -> tuple[bool, bytes, int]:
        async with troika.AsyncTroika.embedded(tmp_path) as t:
            chain = await t.chain()
            assets = await t.assets()  # as the dev account, the registry's admin
            minted = await assets.mint_dataset(shard, metadata, encrypt=False)
            copy = await assets.fetch(minted.token_id, tmp_path / "copy.csv")
            registry = await t.registry()
            receiver = (await chain.accounts())[3]
            before = await chain.balance(receiver)
            await t.fund(receiver, 5)
            paid = await chain.balance(receiver) - before
            return await registry.is_minter(minted.owner), copy.read_bytes(), paid

    assert asyncio.run(main()) == (True, b"a,b\n1,2\n", 5)


def test_async_twin_requests_a_job_on_the_embedded_defaults(tmp_path: Path) -> None:
    data = tmp_path / "ages.csv"
    data.write_text("age\n41\n67\n")
    metadata = DatasetMetadata(name="ages", properties={"media_type": "text/csv"})

    async def main() -> tuple[Any, Any, str]:
        async with troika.AsyncTroika.embedded(tmp_path, scrypt_n=2**10) as t:
            clinic = await (await t.identities()).create("clinic", "pw", kind="person")
            await t.fund(clinic, ETHER)
            minted = await (await t.assets(clinic)).mint_dataset(data, metadata)
            compute = await t.compute(clinic)
            deadline = (await (await t.chain()).block()).timestamp + 3600
            query = {"column": "age", "statistic": "count", "epsilon": 0.5}
            job_id = await compute.request(
                "stats", [minted.token_id], params=query, payment=10**15, deadline=deadline
            )
            jobs = await t.jobs()
            return await compute.status(job_id), await jobs.budget(minted.token_id), clinic.address

    job, budget, clinic = asyncio.run(main())
    assert (job.kind.label, job.status.label) == ("stats", "requested")
    assert (job.requester, job.payment, job.epsilon) == (clinic, 10**15, 0.5)
    assert budget == (0.0, 0.0)  # nothing accepted, nothing spent
