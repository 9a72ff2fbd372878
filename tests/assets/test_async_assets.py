"""AsyncAssets and AsyncAssetRegistry, the asyncio twins: the same behaviour as
Assets, on anvil with the local store and with a real Kubo node, and on the
embedded EVM. Identities are created with the sync twins on the same anvil
(their DID documents are what the async resolver reads). Each test drives its
own event loop with asyncio.run."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._services import Anvil, Kubo
from troika import (
    AssetNotFound,
    AssetPermissionDenied,
    InvalidAssetArgument,
    InvalidMetadata,
    NoKeyAgreementKey,
    NotEntitled,
)
from troika.assets import (
    AssetKind,
    AssetRegistry,
    Assets,
    DatasetMetadata,
    DatasetProperties,
    MintProgress,
    MintRequest,
    commitment_cid,
)
from troika.assets._async import AsyncAssetRegistry, AsyncAssets
from troika.chain import AsyncChain, Chain, Keystore
from troika.did import EthrRegistry
from troika.did._identity import Identities, Identity
from troika.ipfs import (
    AsyncKuboStore,
    AsyncLocalStore,
    KuboStore,
    LocalStore,
    PinningStore,
    cid_of,
)

ETHER = 10**18


@dataclass
class Live:
    """One event loop's view: an AsyncChain and async store, and each party's AsyncAssets."""

    chain: AsyncChain
    store: AsyncKuboStore | AsyncLocalStore
    registry: AsyncAssetRegistry
    minter: str
    hospital: AsyncAssets
    agent: AsyncAssets
    stranger: AsyncAssets

    def assets(self, identity: Identity, *, journal: Path | None = None) -> AsyncAssets:
        return AsyncAssets(
            self.chain,
            self.store,
            self.registry,
            identity=identity,
            minter=self.minter,
            journal=journal,
        )


@dataclass
class World:
    """What the sync twins set up on anvil, and how to reach it from an event loop."""

    anvil: Anvil
    home: Path
    chain: Chain
    sync_store: PinningStore
    kubo_url: str | None
    registry: AssetRegistry
    identities: Identities
    hospital: Identity
    agent: Identity
    stranger: Identity

    def sync_assets(self, identity: Identity, registry: AssetRegistry | None = None) -> Assets:
        return Assets(
            self.chain,
            self.sync_store,
            registry or self.registry,
            identity=identity,
            minter=self.chain.default_sender,
        )

    @asynccontextmanager
    async def live(self) -> AsyncIterator[Live]:
        chain = await AsyncChain.connect(
            self.anvil.url, chain_id=self.anvil.chain_id, home=self.home
        )
        store: AsyncKuboStore | AsyncLocalStore = (
            AsyncKuboStore(self.kubo_url)
            if self.kubo_url is not None
            else AsyncLocalStore(self.home / "ipfs")
        )
        registry = await AsyncAssetRegistry.at(chain, self.registry.address)
        minter = await chain.default_sender()
        assert isinstance(minter, str)

        def assets_of(identity: Identity) -> AsyncAssets:
            return AsyncAssets(chain, store, registry, identity=identity, minter=minter)

        try:
            yield Live(
                chain,
                store,
                registry,
                minter,
                assets_of(self.hospital),
                assets_of(self.agent),
                assets_of(self.stranger),
            )
        finally:
            if isinstance(store, AsyncKuboStore):
                await store.close()
            await chain.close()


@pytest.fixture(params=["local", "kubo"])
def world(request: pytest.FixtureRequest, anvil: Anvil, tmp_path: Path) -> Iterator[World]:
    chain = Chain.connect(anvil.url, chain_id=anvil.chain_id, home=tmp_path)
    kubo_url: str | None = None
    if request.param == "kubo":
        kubo: Kubo = request.getfixturevalue("kubo")
        kubo_url = kubo.api_url
        sync_store: PinningStore = KuboStore(kubo_url)
    else:
        sync_store = LocalStore(tmp_path / "ipfs")
    # Everything the sync twins send goes before the async part starts.
    identities = Identities(
        chain, Keystore(tmp_path / "keys", scrypt_n=2**10), EthrRegistry.deploy(chain)
    )
    hospital = identities.create("hospital", "pw", kind="person")
    agent = identities.create("agent", "pw", kind="agent")
    stranger = identities.create("stranger", "pw", kind="person")
    for someone in (hospital, agent, stranger):
        chain.transfer(someone.address, ETHER)
    registry = AssetRegistry.deploy(chain)
    yield World(
        anvil,
        tmp_path,
        chain,
        sync_store,
        kubo_url,
        registry,
        identities,
        hospital,
        agent,
        stranger,
    )
    if isinstance(sync_store, KuboStore):
        sync_store.close()
    chain.close()


def dataset(name: str = "ward 7 vitals") -> DatasetMetadata:
    return DatasetMetadata(
        name=name,
        description="hourly vitals, de-identified",
        properties=DatasetProperties(media_type="text/csv"),
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def later(days: int = 30) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def test_public_dataset_round_trip(world: World, tmp_path: Path) -> None:
    data = os.urandom(300_000)  # two chunks in kubo-v0
    source = write(tmp_path / "vitals.csv", data)

    async def scenario() -> None:
        async with world.live() as live:
            loop_thread = threading.get_ident()
            events: list[tuple[MintProgress, int]] = []
            minted = await live.hospital.mint_dataset(
                source,
                dataset(),
                encrypt=False,
                royalty_bps=250,
                progress=lambda event: events.append((event, threading.get_ident())),
            )
            # the content CID is the one `ipfs add` gives for the same bytes
            assert minted.content_cid == cid_of(data)
            assert minted.envelope_cid is None
            assert minted.owner == world.hospital.address
            assert minted.tx_hash is not None
            # tokenURI is the metadata block's CIDv1, and the block hashes to the commitment
            token = minted.token_id
            assert await live.registry.token_uri(token) == f"ipfs://{minted.metadata_cid}"
            document = await live.store.get(minted.metadata_cid)
            assert hashlib.sha256(document).digest() == await live.registry.commitment_of(token)
            assert str(minted.metadata_cid).startswith("bafkrei")
            # progress: bytes as they are pinned, then the batch; on the loop's thread
            assert [e.stage for e, _ in events][-1] == "mint"
            pins = [e for e, _ in events if e.stage == "pin"]
            assert pins
            assert pins[-1].bytes_total == len(data) <= pins[-1].bytes_done
            assert {thread for _, thread in events} == {loop_thread}

            asset = await live.agent.asset(token)
            assert asset.kind is AssetKind.DATASET
            assert asset.owner == world.hospital.address
            assert not asset.encrypted
            properties = asset.metadata.properties
            assert properties.content == str(minted.content_cid)
            assert properties.size == len(data)
            assert properties.checksum == "sha256:" + hashlib.sha256(data).hexdigest()
            assert await live.agent.royalty_info(token, 10_000) == (world.hospital.address, 250)
            out = await live.agent.fetch(token, tmp_path / "copy.csv")
            assert out.read_bytes() == data
            assert await live.agent.read_bytes(minted.content_cid) == data
            assert await live.hospital.assets_of(world.hospital) == [token]

    asyncio.run(scenario())


def test_private_mint_owner_fetch_and_a_licensee_named_by_its_did(
    world: World, tmp_path: Path
) -> None:
    data = b"patient,pulse\n" + os.urandom(40_000)
    source = write(tmp_path / "vitals.csv", data)

    async def scenario() -> None:
        async with world.live() as live:
            minted = await live.hospital.mint_dataset(source, dataset())
            token = minted.token_id
            assert minted.envelope_cid is not None
            asset = await live.hospital.asset(token)
            assert asset.encrypted
            encryption = asset.metadata.properties.encryption
            assert encryption is not None
            assert encryption.envelope == str(minted.envelope_cid)
            # what is pinned is not the data: neither its CID nor its bytes
            assert minted.content_cid != cid_of(data)
            assert data[:64] not in await live.store.get(minted.content_cid)
            # the owner decrypts
            mine = await live.hospital.fetch(token, tmp_path / "mine.csv")
            assert mine.read_bytes() == data
            assert mine.stat().st_mode & 0o077 == 0
            # without a licence, no one else may
            with pytest.raises(AssetPermissionDenied) as denied:
                await live.agent.fetch(token, tmp_path / "theirs.csv")
            assert denied.value.account == world.agent.address
            assert not (tmp_path / "theirs.csv").exists()

            # the licensee is named by its DID only: its key comes from its DID document
            until = later()
            await live.hospital.grant_license(token, str(world.agent.did), until)
            assert await live.hospital.license_expiry(token, world.agent.address) == int(
                until.timestamp()
            )
            assert await live.agent.has_access(token, world.agent)
            assert not await live.agent.has_access(token, world.stranger)
            (digest,) = await live.registry.key_grants(token, world.agent.address)
            grant = await live.store.get(commitment_cid(digest))
            assert hashlib.sha256(grant).digest() == digest
            theirs = await live.agent.fetch(token, tmp_path / "licensed.csv")
            assert theirs.read_bytes() == data
            # the sync twin reads the same key grant
            assert (
                world.sync_assets(world.agent).fetch(token, tmp_path / "sync.csv").read_bytes()
                == data
            )
            # a licence to an account whose DID publishes no key: nothing is granted
            with pytest.raises(NoKeyAgreementKey):
                await live.hospital.grant_license(token, "0x" + "12" * 20, until)
            assert await live.hospital.license_expiry(token, "0x" + "12" * 20) == 0
            # revoking ends access
            await live.hospital.revoke_license(token, world.agent)
            assert not await live.agent.has_access(token, world.agent)
            with pytest.raises(AssetPermissionDenied):
                await live.agent.fetch(token, tmp_path / "after.csv")

    asyncio.run(scenario())


def test_a_licence_without_a_key_grant_is_not_entitled(world: World, tmp_path: Path) -> None:
    source = write(tmp_path / "d.bin", b"secret")

    async def scenario() -> None:
        async with world.live() as live:
            minted = await live.hospital.mint_dataset(source, dataset())
            # a licence granted on chain directly, not through troika: no wrapped key
            await live.registry.grant_license(
                minted.token_id,
                world.agent.address,
                int(later().timestamp()),
                sender=world.hospital.signer,
            )
            with pytest.raises(NotEntitled):
                await live.agent.fetch(minted.token_id, tmp_path / "x.bin")

    asyncio.run(scenario())


def test_a_retried_mint_mints_nothing_twice(world: World, tmp_path: Path) -> None:
    private = write(tmp_path / "d.bin", os.urandom(10_000))
    journaled = write(tmp_path / "e.bin", os.urandom(1_000))
    public = write(tmp_path / "p.bin", b"public rows")
    journal = tmp_path / "journal.json"
    # the sync twin's journal is the async twin's too: one core writes and reads both
    sync_first = Assets(
        world.chain,
        world.sync_store,
        world.registry,
        identity=world.hospital,
        minter=world.chain.default_sender,
        journal=journal,
    ).mint_dataset(private, dataset())

    async def scenario() -> None:
        async with world.live() as live:
            again = await live.assets(world.hospital, journal=journal).mint_dataset(
                private, dataset()
            )
            assert (again.token_id, again.tx_hash) == (sync_first.token_id, None)
            assert again.metadata_cid == sync_first.metadata_cid
            # in memory, within one AsyncAssets
            first = await live.hospital.mint_dataset(journaled, dataset("e"))
            retried = await live.hospital.mint_dataset(journaled, dataset("e"))
            assert (retried.token_id, retried.tx_hash) == (first.token_id, None)
            # in a journal file, across two
            other = tmp_path / "other.json"
            one = await live.assets(world.hospital, journal=other).mint_dataset(
                journaled, dataset("e2")
            )
            two = await live.assets(world.hospital, journal=other).mint_dataset(
                journaled, dataset("e2")
            )
            assert (two.token_id, two.tx_hash) == (one.token_id, None)
            assert await live.registry.total_minted() == one.token_id
            # public content needs no journal: the commitment is found on chain
            a = await live.hospital.mint_dataset(public, dataset("p"), encrypt=False)
            b = await live.assets(world.hospital).mint_dataset(public, dataset("p"), encrypt=False)
            assert (b.token_id, b.tx_hash) == (a.token_id, None)
            assert await live.registry.total_minted() == a.token_id

    asyncio.run(scenario())


def test_mint_batch_then_many_fetches_at_once(world: World, tmp_path: Path) -> None:
    files = [write(tmp_path / f"shard-{i}.bin", os.urandom(1_024 + i)) for i in range(11)]

    async def scenario() -> None:
        async with world.live() as live:
            events: list[MintProgress] = []
            minted = await live.hospital.mint_batch(
                [
                    MintRequest(path, dataset(f"shard {i}"), encrypt=i % 2 == 0)
                    for i, path in enumerate(files)
                ],
                batch_size=4,
                progress=events.append,
            )
            first = minted[0].token_id
            assert [m.token_id for m in minted] == list(range(first, first + 11))
            assert len({m.tx_hash for m in minted}) == 3  # 4 + 4 + 3
            stages = [event.stage for event in events]
            # every pin before the first mint
            assert stages.index("mint") > max(i for i, s in enumerate(stages) if s == "pin")
            assert stages.count("mint") == 3
            assert (await live.registry.batch_of(minted[5].token_id)).count == 4
            # more fetches at once than the default executor has threads
            outs = await asyncio.gather(
                *(
                    live.hospital.fetch(item.token_id, tmp_path / f"out-{item.token_id}-{n}")
                    for n in range(4)
                    for item in minted
                )
            )
            assert len(outs) == 44
            for out in outs:
                shard = int(out.name.split("-")[1]) - first
                assert out.read_bytes() == files[shard].read_bytes()
            tokens = sorted(m.token_id for m in minted)
            assert await live.hospital.assets_of(str(world.hospital.did)) == tokens
            assert await live.registry.tokens_of(world.hospital.address, page=1) == tokens

    asyncio.run(scenario())


def test_bad_input_mints_nothing(world: World, tmp_path: Path) -> None:
    source = write(tmp_path / "d.bin", b"rows")

    async def scenario() -> None:
        async with world.live() as live:
            before = await live.registry.total_minted()
            pins = await live.store.pins()
            assets = live.hospital
            with pytest.raises(InvalidMetadata) as invalid:
                await assets.mint_dataset(
                    source, {"name": "", "properties": {"kind": "dataset", "size": -1}}
                )
            assert {tuple(e["loc"]) for e in invalid.value.errors} >= {
                ("name",),
                ("properties", "size"),
            }
            with pytest.raises(InvalidAssetArgument) as zero:
                await assets.mint_dataset(source, dataset(), to="0x" + "00" * 20)
            assert zero.value.name == "to"
            with pytest.raises(InvalidAssetArgument) as royalty:
                await assets.mint_dataset(source, dataset(), royalty_bps=10_001)
            assert royalty.value.name == "royalty_bps"
            with pytest.raises(InvalidAssetArgument) as folder:
                await assets.mint_dataset(tmp_path, dataset())
            assert folder.value.name == "path"
            with pytest.raises(FileNotFoundError):
                await assets.mint_dataset(tmp_path / "missing", dataset())
            with pytest.raises(InvalidAssetArgument):
                await assets.mint_batch([], batch_size=0)
            # an owner whose DID publishes no key: nothing pinned for it, nothing minted
            with pytest.raises(NoKeyAgreementKey):
                await assets.mint_dataset(source, dataset(), to="0x" + "34" * 20)
            # a sender that may not mint
            no_minter = AsyncAssets(live.chain, live.store, live.registry, identity=world.stranger)
            with pytest.raises(AssetPermissionDenied) as denied:
                await no_minter.mint_dataset(source, dataset(), encrypt=False)
            assert "MINTER_ROLE" in str(denied.value)
            assert await live.registry.total_minted() == before
            # what stays pinned is the public attempt's content and metadata only
            new = await live.store.pins() - pins
            assert {c for c in new if c.codec != "raw"} <= {cid_of(b"rows")}

            minted = await assets.mint_dataset(source, dataset(), encrypt=False)
            with pytest.raises(InvalidAssetArgument):
                await assets.transfer(minted.token_id, "0x" + "00" * 20)
            with pytest.raises(AssetPermissionDenied):
                await live.stranger.transfer(minted.token_id, world.stranger)
            with pytest.raises(AssetPermissionDenied) as not_owner:
                await live.stranger.grant_license(minted.token_id, world.agent, later())
            assert not_owner.value.token_id == minted.token_id
            with pytest.raises(InvalidAssetArgument) as past:
                await assets.grant_license(
                    minted.token_id, world.agent, dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
                )
            assert past.value.name == "expiry"
            with pytest.raises(InvalidAssetArgument) as naive:
                await assets.grant_license(minted.token_id, world.agent, dt.datetime(2099, 1, 1))
            assert naive.value.name == "until"
            with pytest.raises(AssetNotFound):
                await assets.asset(10**9)
            with pytest.raises(InvalidAssetArgument):
                assets.account_of("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
            await assets.transfer(minted.token_id, world.agent)
            assert await live.agent.assets_of(world.agent) == [minted.token_id]

    asyncio.run(scenario())


def test_sync_and_async_write_the_same_metadata_document(world: World, tmp_path: Path) -> None:
    data = os.urandom(70_000)
    source = write(tmp_path / "rows.csv", data)
    metadata = dataset("the same rows")
    # the sync twin mints in its own registry, so the async one cannot find its token
    sync_registry = AssetRegistry.deploy(world.chain)
    by_sync = world.sync_assets(world.hospital, sync_registry).mint_dataset(
        source, metadata, encrypt=False, royalty_bps=100
    )
    sync_document = world.sync_store.get(by_sync.metadata_cid)

    async def scenario() -> None:
        async with world.live() as live:
            by_async = await live.hospital.mint_dataset(
                source, metadata, encrypt=False, royalty_bps=100
            )
            assert by_async.tx_hash is not None
            assert (by_async.content_cid, by_async.metadata_cid) == (
                by_sync.content_cid,
                by_sync.metadata_cid,
            )
            assert await live.store.get(by_async.metadata_cid) == sync_document
            # and in the sync twin's registry, the async twin finds the sync twin's token
            there = AsyncAssets(
                live.chain,
                live.store,
                await AsyncAssetRegistry.at(live.chain, sync_registry.address),
                identity=world.hospital,
                minter=live.minter,
            )
            found = await there.mint_dataset(source, metadata, encrypt=False, royalty_bps=100)
            assert (found.token_id, found.tx_hash) == (by_sync.token_id, None)
            assert (await there.asset(found.token_id)).metadata == (
                world.sync_assets(world.agent, sync_registry).asset(by_sync.token_id).metadata
            )

    asyncio.run(scenario())


def test_on_the_embedded_chain_with_an_unlocked_identity(tmp_path: Path) -> None:
    # an identity made on a sync embedded chain: its own key needs no DID resolution
    sync_chain = Chain.embedded()
    identities = Identities(
        sync_chain, Keystore(tmp_path / "keys", scrypt_n=2**10), EthrRegistry.deploy(sync_chain)
    )
    owner = identities.create("lab", "pw", kind="person")
    data = os.urandom(5_000)
    source = write(tmp_path / "w.bin", data)

    async def scenario() -> None:
        async with AsyncChain.embedded() as chain:
            await chain.transfer(owner.address, ETHER)
            store = AsyncLocalStore(tmp_path / "ipfs")
            minter = (await chain.accounts())[0]
            # no registry given: troika's recorded one, deployed on first use (once)
            assets = AsyncAssets(chain, store, identity=owner, minter=minter)
            first, second = await asyncio.gather(assets.registry(), assets.registry())
            assert first is second
            assert await first.is_minter(minter)
            minted = await assets.mint_dataset(source, dataset())
            assert minted.owner == owner.address
            assert (await assets.fetch(minted.token_id, tmp_path / "out.bin")).read_bytes() == data
            other = AsyncAssets(chain, store)  # finds the recorded registry
            assert (await other.registry()).address == first.address
            with pytest.raises(NotEntitled):
                await other.fetch(minted.token_id, tmp_path / "nobody.bin")
            cid = await assets.pin_bytes(b"hello\n")
            assert str(cid) == "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
            assert await assets.read_bytes(cid) == b"hello\n"

    asyncio.run(scenario())
