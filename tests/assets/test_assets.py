"""Assets end to end: pin (encrypted to a DID key), mint, read back verified,
license with a re-wrapped key, fetch and decrypt; on the embedded EVM with the
local store, and on anvil with a real Kubo node."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._services import Kubo
from troika import (
    AssetNotFound,
    AssetPermissionDenied,
    ContentChanged,
    InvalidAssetArgument,
    InvalidMetadata,
    MetadataMismatch,
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
    ModelMetadata,
    ModelProperties,
    commitment_cid,
)
from troika.chain import Chain, Keystore
from troika.did import EthrRegistry
from troika.did._identity import Identities, Identity
from troika.ipfs import CID, KuboStore, LocalStore, PinningStore, cid_of

ETHER = 10**18


@dataclass
class World:
    chain: Chain
    store: PinningStore
    registry: AssetRegistry
    hospital: Identity
    agent: Identity
    stranger: Identity
    identities: Identities
    hospital_assets: Assets
    agent_assets: Assets
    stranger_assets: Assets


@pytest.fixture
def world(chain: Chain, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    if chain.is_embedded:
        store: PinningStore = LocalStore(tmp_path / "ipfs")
    else:
        kubo: Kubo = request.getfixturevalue("kubo")
        store = KuboStore(kubo.api_url)
    identities = Identities(
        chain, Keystore(tmp_path / "keys", scrypt_n=2**10), EthrRegistry.deploy(chain)
    )
    hospital = identities.create("hospital", "pw", kind="person")
    agent = identities.create("agent", "pw", kind="agent")
    stranger = identities.create("stranger", "pw", kind="person")
    for someone in (hospital, agent, stranger):
        chain.transfer(someone.address, ETHER)
    registry = AssetRegistry.deploy(chain)  # the chain's default sender is admin and minter
    minter = chain.default_sender

    def assets_of(identity: Identity) -> Assets:
        return Assets(chain, store, registry, identity=identity, minter=minter)

    yield World(
        chain,
        store,
        registry,
        hospital,
        agent,
        stranger,
        identities,
        assets_of(hospital),
        assets_of(agent),
        assets_of(stranger),
    )
    if isinstance(store, KuboStore):
        store.close()


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
    minted = world.hospital_assets.mint_dataset(source, dataset(), encrypt=False, royalty_bps=250)

    # the content CID is the one `ipfs add` gives for the same bytes
    assert minted.content_cid == cid_of(data)
    assert minted.envelope_cid is None
    assert minted.owner == world.hospital.address
    # tokenURI is the metadata block's CIDv1, and the block hashes to the commitment
    assert world.registry.token_uri(minted.token_id) == f"ipfs://{minted.metadata_cid}"
    document = world.store.get(minted.metadata_cid)
    assert hashlib.sha256(document).digest() == world.registry.commitment_of(minted.token_id)
    assert str(minted.metadata_cid).startswith("bafkrei")

    asset = world.agent_assets.asset(minted.token_id)
    assert asset.kind is AssetKind.DATASET
    assert asset.owner == world.hospital.address
    assert not asset.encrypted
    properties = asset.metadata.properties
    assert properties.content == str(minted.content_cid)
    assert properties.size == len(data)
    assert properties.checksum == "sha256:" + hashlib.sha256(data).hexdigest()
    assert properties.media_type == "text/csv"
    # ERC-2981: 2.5 % to the owner
    assert world.agent_assets.royalty_info(minted.token_id, 10_000) == (
        world.hospital.address,
        250,
    )
    out = world.agent_assets.fetch(minted.token_id, tmp_path / "copy.csv")
    assert out.read_bytes() == data


def test_private_dataset_is_encrypted_and_only_the_owner_decrypts(
    world: World, tmp_path: Path
) -> None:
    data = b"patient,pulse\n" + os.urandom(5_000)
    source = write(tmp_path / "vitals.csv", data)
    minted = world.hospital_assets.mint_dataset(source, dataset())

    assert minted.envelope_cid is not None
    asset = world.hospital_assets.asset(minted.token_id)
    assert asset.encrypted
    encryption = asset.metadata.properties.encryption
    assert encryption is not None
    assert encryption.envelope == str(minted.envelope_cid)
    # what is pinned is not the data: neither its CID nor its bytes
    assert minted.content_cid != cid_of(data)
    pinned = b"".join(world.store.get(cid) for cid in [minted.content_cid])
    assert data[:64] not in pinned
    # the owner decrypts
    out = world.hospital_assets.fetch(minted.token_id, tmp_path / "mine.csv")
    assert out.read_bytes() == data
    assert out.stat().st_mode & 0o077 == 0
    # without a licence, no one else may
    with pytest.raises(AssetPermissionDenied) as denied:
        world.agent_assets.fetch(minted.token_id, tmp_path / "theirs.csv")
    assert denied.value.account == world.agent.address
    assert not (tmp_path / "theirs.csv").exists()


def test_a_licence_wraps_the_key_for_the_licensee_resolved_from_its_did(
    world: World, tmp_path: Path
) -> None:
    data = os.urandom(40_000)
    minted = world.hospital_assets.mint_dataset(write(tmp_path / "d.bin", data), dataset())
    token = minted.token_id
    until = later()
    # the licensee is named by its DID only: its key comes from its DID document
    world.hospital_assets.grant_license(token, str(world.agent.did), until)

    assert world.hospital_assets.license_expiry(token, world.agent.address) == int(
        until.timestamp()
    )
    assert world.agent_assets.has_access(token, world.agent)
    assert not world.agent_assets.has_access(token, world.stranger)
    # the wrapped key is on chain as the digest of a pinned block
    (digest,) = world.registry.key_grants(token, world.agent.address)
    assert hashlib.sha256(world.store.get(commitment_cid(digest))).digest() == digest
    out = world.agent_assets.fetch(token, tmp_path / "licensed.bin")
    assert out.read_bytes() == data
    # a licensee who is not in the envelope, and got no key, is not entitled
    world.hospital_assets.grant_license(token, world.stranger.address, until)
    with pytest.raises(NoKeyAgreementKey):
        # an address has no published key of its own: resolve a bare did:ethr of a new account
        world.hospital_assets.grant_license(token, "0x" + "12" * 20, until)
    # revoking ends access (a key already fetched cannot be taken back: see the docs)
    world.hospital_assets.revoke_license(token, world.agent)
    assert not world.agent_assets.has_access(token, world.agent)
    with pytest.raises(AssetPermissionDenied):
        world.agent_assets.fetch(token, tmp_path / "after.bin")


def test_a_licence_without_a_key_grant_is_not_entitled(world: World, tmp_path: Path) -> None:
    minted = world.hospital_assets.mint_dataset(write(tmp_path / "d.bin", b"secret"), dataset())
    # a licence granted on chain directly, not through troika: no wrapped key
    world.registry.grant_license(
        minted.token_id,
        world.agent.address,
        int(later().timestamp()),
        sender=world.hospital.signer,
    )
    with pytest.raises(NotEntitled):
        world.agent_assets.fetch(minted.token_id, tmp_path / "x.bin")


def test_a_retried_mint_mints_nothing_twice(world: World, tmp_path: Path) -> None:
    source = write(tmp_path / "d.bin", os.urandom(10_000))
    first = world.hospital_assets.mint_dataset(source, dataset())
    again = world.hospital_assets.mint_dataset(source, dataset())
    assert again.token_id == first.token_id
    assert again.tx_hash is None
    assert world.registry.total_minted() == first.token_id
    # a new process (a new Assets, same journal file) finds it too
    journal = tmp_path / "journal.json"
    one = Assets(
        world.chain,
        world.store,
        world.registry,
        identity=world.hospital,
        minter=world.chain.default_sender,
        journal=journal,
    )
    other = write(tmp_path / "e.bin", os.urandom(1_000))
    minted = one.mint_dataset(other, dataset("e"))
    two = Assets(
        world.chain,
        world.store,
        world.registry,
        identity=world.hospital,
        minter=world.chain.default_sender,
        journal=journal,
    )
    assert two.mint_dataset(other, dataset("e")).token_id == minted.token_id
    assert world.registry.total_minted() == minted.token_id
    # public content needs no journal: the commitment is the same, found on chain
    public = write(tmp_path / "p.bin", b"public rows")
    a = world.hospital_assets.mint_dataset(public, dataset("p"), encrypt=False)
    fresh = Assets(
        world.chain,
        world.store,
        world.registry,
        identity=world.hospital,
        minter=world.chain.default_sender,
    )
    b = fresh.mint_dataset(public, dataset("p"), encrypt=False)
    assert (b.token_id, b.tx_hash) == (a.token_id, None)


def test_mint_batch_pins_everything_then_mints_in_few_transactions(
    world: World, tmp_path: Path
) -> None:
    files = [write(tmp_path / f"shard-{i}.bin", os.urandom(1_024)) for i in range(11)]
    events: list[MintProgress] = []
    minted = world.hospital_assets.mint_batch(
        [
            MintRequest(path, dataset(f"shard {i}"), encrypt=i % 2 == 0)
            for i, path in enumerate(files)
        ],
        batch_size=4,
        progress=events.append,
    )
    assert [m.token_id for m in minted] == list(range(minted[0].token_id, minted[0].token_id + 11))
    assert len({m.tx_hash for m in minted}) == 3  # 4 + 4 + 3
    stages = [event.stage for event in events]
    # every pin before the first mint
    assert stages.index("mint") > max(i for i, s in enumerate(stages) if s == "pin")
    assert stages.count("mint") == 3
    assert world.registry.batch_of(minted[5].token_id).count == 4
    for item, path in zip(minted, files, strict=True):
        out = world.hospital_assets.fetch(item.token_id, tmp_path / f"out-{item.token_id}")
        assert out.read_bytes() == path.read_bytes()
    assert world.hospital_assets.assets_of(world.hospital) == sorted(m.token_id for m in minted)


def test_a_model_derives_from_its_datasets(world: World, tmp_path: Path) -> None:
    data = world.hospital_assets.mint_dataset(write(tmp_path / "d.bin", b"rows"), dataset())
    metadata = ModelMetadata(
        name="sepsis risk",
        properties=ModelProperties(
            framework="numpy",
            task="binary-classification",
            datasets=(data.token_id,),
            metrics={"accuracy": 0.91},
        ),
    )
    model = world.hospital_assets.mint_model(
        write(tmp_path / "w.npz", os.urandom(2_000)), metadata, parents=[data.token_id]
    )
    asset = world.agent_assets.asset(model.token_id)
    assert asset.kind is AssetKind.MODEL
    assert asset.parents == (data.token_id,)
    assert isinstance(asset.metadata, ModelMetadata)
    assert asset.metadata.properties.metrics == {"accuracy": 0.91}
    with pytest.raises(InvalidAssetArgument):
        world.hospital_assets.mint_model(
            write(tmp_path / "x", b"x"),
            dataset(),
            parents=[data.token_id],  # type: ignore[arg-type]
        )


def test_transfer_and_listing_follow_transfer_events(world: World, tmp_path: Path) -> None:
    minted = world.hospital_assets.mint_batch(
        [
            MintRequest(write(tmp_path / f"{i}", bytes([i]) * 10), dataset(f"{i}"), encrypt=False)
            for i in range(3)
        ]
    )
    ids = [m.token_id for m in minted]
    world.hospital_assets.transfer(ids[1], world.agent)
    assert world.hospital_assets.assets_of(world.hospital) == [ids[0], ids[2]]
    assert world.agent_assets.assets_of(str(world.agent.did)) == [ids[1]]
    assert world.registry.tokens_of(world.hospital.address, page=1) == [ids[0], ids[2]]
    with pytest.raises(AssetPermissionDenied):
        world.stranger_assets.transfer(ids[0], world.stranger)
    with pytest.raises(InvalidAssetArgument):
        world.hospital_assets.transfer(ids[0], "0x" + "00" * 20)


def test_bad_input_mints_nothing(world: World, tmp_path: Path) -> None:
    before = world.registry.total_minted()
    pins = world.store.pins()
    source = write(tmp_path / "d.bin", b"rows")
    with pytest.raises(InvalidMetadata) as invalid:
        world.hospital_assets.mint_dataset(
            source, {"name": "", "properties": {"kind": "dataset", "size": -1}}
        )
    assert {tuple(e["loc"]) for e in invalid.value.errors} >= {("name",), ("properties", "size")}
    with pytest.raises(InvalidAssetArgument) as zero:
        world.hospital_assets.mint_dataset(source, dataset(), to="0x" + "00" * 20)
    assert zero.value.name == "to"
    with pytest.raises(InvalidAssetArgument):
        world.hospital_assets.mint_dataset(source, dataset(), royalty_bps=10_001)
    with pytest.raises(InvalidAssetArgument):
        world.hospital_assets.mint_dataset(tmp_path, dataset())
    with pytest.raises(FileNotFoundError):
        world.hospital_assets.mint_dataset(tmp_path / "missing", dataset())
    # minting to an account whose DID publishes no key: nothing pinned for it, nothing minted
    with pytest.raises(NoKeyAgreementKey):
        world.hospital_assets.mint_dataset(source, dataset(), to="0x" + "34" * 20)
    # a sender that may not mint
    no_minter = Assets(world.chain, world.store, world.registry, identity=world.stranger)
    with pytest.raises(AssetPermissionDenied) as denied:
        no_minter.mint_dataset(source, dataset(), encrypt=False)
    assert "MINTER_ROLE" in str(denied.value)
    assert world.registry.total_minted() == before
    # what stays pinned is the public attempt's content and metadata: no envelope, no ciphertext
    new = world.store.pins() - pins
    assert {c for c in new if c.codec != "raw"} <= {cid_of(b"rows")}


def test_a_file_that_changes_while_pinned_is_not_minted(world: World, tmp_path: Path) -> None:
    source = write(tmp_path / "d.bin", os.urandom(600_000))
    before = world.registry.total_minted()

    def change_it(event: MintProgress) -> None:
        if event.stage == "pin" and event.bytes_done > 0:
            with source.open("ab") as file:
                file.write(b"more rows")

    with pytest.raises(ContentChanged) as changed:
        world.hospital_assets.mint_dataset(source, dataset(), progress=change_it)
    assert changed.value.path == source
    assert world.registry.total_minted() == before


def test_no_funds_and_no_permission_are_asset_errors(world: World, tmp_path: Path) -> None:
    minted = world.hospital_assets.mint_dataset(
        write(tmp_path / "d", b"x"), dataset(), encrypt=False
    )
    with pytest.raises(AssetPermissionDenied) as denied:
        world.stranger_assets.grant_license(minted.token_id, world.agent, later())
    assert denied.value.token_id == minted.token_id
    with pytest.raises(InvalidAssetArgument) as past:
        world.hospital_assets.grant_license(
            minted.token_id, world.agent, dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
        )
    assert past.value.name == "expiry"
    with pytest.raises(AssetNotFound):
        world.hospital_assets.asset(10**9)
    # an account with no coin cannot send
    broke = world.identities.create("broke", "pw", kind="person")
    world.registry.transfer(minted.token_id, broke.address, sender=world.hospital.signer)
    poor = Assets(world.chain, world.store, world.registry, identity=broke)
    with pytest.raises(AssetPermissionDenied) as rejected:
        poor.grant_license(minted.token_id, world.agent, later())
    assert "cannot send" in str(rejected.value)


def test_metadata_that_does_not_match_the_chain_is_refused(tmp_path: Path) -> None:
    chain = Chain.embedded()
    store = LocalStore(tmp_path / "ipfs")
    registry = AssetRegistry.deploy(chain)
    assets = Assets(chain, store, registry)
    # a token whose commitment names a block the store holds with other bytes
    honest = json.dumps({"name": "x"}).encode()
    minted = registry.mint_batch(
        chain.accounts[0], AssetKind.DATASET, [hashlib.sha256(honest).digest()]
    )
    (token,) = minted.token_ids
    # a block that is not asset metadata at all, but does hash to the commitment
    store.put(CID.of(honest), honest)
    with pytest.raises(MetadataMismatch) as mismatch:
        assets.asset(token)
    assert mismatch.value.token_id == token
