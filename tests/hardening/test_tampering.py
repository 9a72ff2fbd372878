"""Tampered envelopes, ciphertexts and metadata are refused by ``Assets.fetch``,
which then leaves nothing at its output path; on the embedded EVM and a
LocalStore on disk.

Two kinds of attacker:

- one who can write the store's files (a real fault on disk, not a mock):
  every block is re-hashed against its CID, so any change to the metadata,
  the envelope or a block of the ciphertext is a ``VerificationError``, and a
  missing block is ``BlockNotFound``;
- a dishonest publisher, who pins a tampered envelope or ciphertext under its
  own (correct) CID and mints a token whose metadata names it: HPKE and
  AES-GCM then refuse it, ``NotEntitled`` when no wrapped key opens and
  ``DecryptionError`` when the envelope is malformed or the ciphertext fails.

The primitives' own tamper tests (every byte flip, truncation, reordering of
segments; a tampered ``enc``; a kid-bound wrapped key) are in
tests/assets/test_crypto.py; here they go through the public path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from troika import (
    BlockNotFound,
    DecryptionError,
    MetadataMismatch,
    NotEntitled,
    TroikaError,
    VerificationError,
)
from troika.assets import (
    AssetKind,
    AssetRegistry,
    Assets,
    DatasetMetadata,
    DatasetProperties,
    MintedAsset,
)
from troika.chain import Chain, Keystore
from troika.did import EthrRegistry
from troika.did._identity import Identities, Identity
from troika.ipfs import CID, LocalStore

SEGMENT = 1 << 20  # the default segment size: the data spans three segments
TAG, HEADER = 16, 16


@dataclass
class World:
    chain: Chain
    store: LocalStore
    registry: AssetRegistry
    owner: Identity
    reader: Identity
    assets: Assets  # the owner's
    reader_assets: Assets
    data: bytes
    minted: MintedAsset
    blocks: dict[str, Path]  # "metadata", "envelope", and the content's by their CIDs
    out: Path

    def fetch_fails(
        self, token_id: int, error: type[TroikaError], assets: Assets | None = None
    ) -> TroikaError:
        """``fetch`` raises ``error`` and leaves no file at ``out``, nor a temporary beside it."""
        before = set(self.out.parent.iterdir())
        with pytest.raises(error) as caught:
            (assets or self.assets).fetch(token_id, self.out)
        assert not self.out.exists()
        assert set(self.out.parent.iterdir()) == before
        return caught.value

    def republish(self, *, content: bytes | None = None, envelope: bytes | None = None) -> int:
        """A token whose metadata names ``content`` (the ciphertext) or ``envelope``
        (its JSON) instead of the honest ones, each pinned under its own CID."""
        document = json.loads(self.store.get(self.minted.metadata_cid))
        properties = document["properties"]
        if content is not None:
            properties["content"] = str(self.assets.pin_bytes(content))
        if envelope is not None:
            properties["encryption"]["envelope"] = str(self.assets.pin_bytes(envelope))
        raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        self.store.put(CID.of(raw), raw)
        minted = self.registry.mint_batch(
            self.owner.address, AssetKind.DATASET, [hashlib.sha256(raw).digest()]
        )
        return minted.token_ids[0]

    def license_reader(self, token_id: int) -> None:
        """A licence on chain, without a key grant: the reader's key is in the envelope."""
        sender = self.owner.signer
        self.registry.grant_license(token_id, self.reader.address, 2**40, sender=sender)

    def ciphertext(self) -> bytes:
        return self.assets.read_bytes(self.minted.content_cid)

    def envelope(self) -> dict[str, Any]:
        assert self.minted.envelope_cid is not None
        return dict(json.loads(self.assets.read_bytes(self.minted.envelope_cid)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """One encrypted dataset of three segments, wrapped for its owner and a reader."""
    tmp = tmp_path_factory.mktemp("tampering")
    chain = Chain.embedded()
    identities = Identities(
        chain, Keystore(tmp / "keys", scrypt_n=2**10), EthrRegistry.deploy(chain)
    )
    owner = identities.create("owner", "pw", kind="person")
    reader = identities.create("reader", "pw", kind="agent")
    for someone in (owner, reader):
        chain.transfer(someone.address, 10**18)
    store = LocalStore(tmp / "ipfs")
    registry = AssetRegistry.deploy(chain)
    minter = chain.default_sender
    assets = Assets(chain, store, registry, identity=owner, minter=minter)
    reader_assets = Assets(chain, store, registry, identity=reader, minter=minter)
    data = os.urandom(2 * SEGMENT + 12_345)
    source = tmp / "vitals.csv"
    source.write_bytes(data)
    blocks_folder = tmp / "ipfs" / "blocks"
    metadata = DatasetMetadata(name="vitals", properties=DatasetProperties(media_type="text/csv"))
    before = set(blocks_folder.rglob("*")) if blocks_folder.exists() else set()
    minted = assets.mint_dataset(source, metadata, readers=[reader])
    new = {p for p in blocks_folder.rglob("*") if p.is_file()} - before
    blocks: dict[str, Path] = {}
    for path in new:
        block = path.read_bytes()
        if minted.metadata_cid.verify(block):
            blocks["metadata"] = path
        elif minted.envelope_cid is not None and minted.envelope_cid.verify(block):
            blocks["envelope"] = path
        else:
            blocks[path.name] = path
    assert {"metadata", "envelope"} <= set(blocks)
    out = tmp / "out" / "vitals.csv"
    out.parent.mkdir()
    world = World(
        chain, store, registry, owner, reader, assets, reader_assets, data, minted, blocks, out
    )
    world.license_reader(minted.token_id)
    # both parties decrypt the honest asset
    for who in (assets, reader_assets):
        assert who.fetch(minted.token_id, out).read_bytes() == data
        out.unlink()
    return world


# -- a fault on disk -------------------------------------------------------------------------------


def damage(path: Path, how: str) -> bytes:
    """Damages the block file in place; returns its bytes, to restore."""
    original = path.read_bytes()
    changed = {
        "flip": lambda b: b[: len(b) // 2] + bytes([b[len(b) // 2] ^ 0x01]) + b[len(b) // 2 + 1 :],
        "truncate": lambda b: b[:-1],
        "append": lambda b: b + b"\x00",
        "swap": lambda b: b[1:] + b[:1],
    }[how](original)
    path.write_bytes(changed)
    return original


@pytest.mark.parametrize("how", ["flip", "truncate", "append", "swap"])
def test_every_block_damaged_on_disk_is_refused(world: World, how: str) -> None:
    token = world.minted.token_id
    for path in world.blocks.values():
        original = damage(path, how)
        try:
            world.fetch_fails(token, VerificationError)
        finally:
            path.write_bytes(original)
    assert world.assets.fetch(token, world.out).read_bytes() == world.data
    world.out.unlink()


def test_metadata_damaged_on_disk_is_refused_before_anything_else(world: World) -> None:
    path = world.blocks["metadata"]
    original = damage(path, "flip")
    try:
        with pytest.raises(VerificationError) as caught:
            world.assets.asset(world.minted.token_id)
        assert caught.value.cid == world.minted.metadata_cid
        world.fetch_fails(world.minted.token_id, VerificationError)
    finally:
        path.write_bytes(original)


def test_a_block_missing_from_disk_is_not_found(world: World) -> None:
    content = sorted(name for name in world.blocks if name not in ("metadata", "envelope"))
    for name in (content[0], content[-1], "envelope"):
        path = world.blocks[name]
        original = path.read_bytes()
        path.unlink()
        try:
            world.fetch_fails(world.minted.token_id, BlockNotFound)
        finally:
            path.write_bytes(original)


def test_metadata_replaced_by_other_bytes_under_its_cid_is_a_mismatch(world: World) -> None:
    """A block that hashes right but is not asset metadata (tests/assets covers
    bytes that do not match the chain's commitment)."""
    junk = b'{"name": "not asset metadata"}'
    (token,) = world.registry.mint_batch(
        world.owner.address, AssetKind.DATASET, [hashlib.sha256(junk).digest()]
    ).token_ids
    world.store.put(CID.of(junk), junk)
    error = world.fetch_fails(token, MetadataMismatch)
    assert isinstance(error, MetadataMismatch)
    assert error.token_id == token


# -- a dishonest publisher: tampered, but pinned under its own CID ---------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def flip_enc(at: int) -> Callable[[dict[str, Any]], None]:
    def tamper(envelope: dict[str, Any]) -> None:
        for entry in envelope["recipients"]:
            sealed = bytearray(unb64url(entry["enc"]))
            sealed[at] ^= 0x80
            entry["enc"] = b64url(bytes(sealed))

    return tamper


def truncate_enc(envelope: dict[str, Any]) -> None:
    for entry in envelope["recipients"]:
        entry["enc"] = b64url(unb64url(entry["enc"])[:-1])


def swap_kids(envelope: dict[str, Any]) -> None:
    first, second = envelope["recipients"]
    first["kid"], second["kid"] = second["kid"], first["kid"]


def swap_encs(envelope: dict[str, Any]) -> None:
    first, second = envelope["recipients"]
    first["enc"], second["enc"] = second["enc"], first["enc"]


@pytest.mark.parametrize(
    "tamper",
    [flip_enc(0), flip_enc(31), flip_enc(32), flip_enc(-1), truncate_enc, swap_kids, swap_encs],
    ids=[
        "enc key first byte",
        "enc key last byte",
        "sealed key",
        "tag",
        "truncated enc",
        "kids swapped",
        "encs swapped",
    ],
)
def test_a_tampered_envelope_entitles_nobody(
    world: World, tamper: Callable[[dict[str, Any]], None]
) -> None:
    envelope = world.envelope()
    tamper(envelope)
    token = world.republish(envelope=json.dumps(envelope).encode())
    for assets in (world.assets, world.reader_assets):
        if assets is world.reader_assets:
            world.registry.grant_license(
                token, world.reader.address, 2**40, sender=world.owner.signer
            )
        error = world.fetch_fails(token, NotEntitled, assets)
        assert isinstance(error, NotEntitled)


@pytest.mark.parametrize(
    "text",
    [
        lambda e: json.dumps(e)[:-1],  # truncated JSON
        lambda e: json.dumps({**e, "recipients": []}),
        lambda e: json.dumps({**e, "version": 2}),
        lambda e: json.dumps({**e, "cipher": "AES-128-CBC"}),
        lambda e: json.dumps(
            {**e, "recipients": [{**e["recipients"][0], "enc": "not base64url!"}]}
        ),
    ],
    ids=["truncated", "no recipients", "version", "cipher", "enc alphabet"],
)
def test_a_malformed_envelope_is_a_decryption_error(
    world: World, text: Callable[[dict[str, Any]], str]
) -> None:
    token = world.republish(envelope=text(world.envelope()).encode())
    world.fetch_fails(token, DecryptionError)


def flip(at: int) -> Callable[[bytes], bytes]:
    return lambda c: c[:at] + bytes([c[at] ^ 0x01]) + c[at + 1 :]


SEALED = SEGMENT + TAG  # a full segment, sealed


@pytest.mark.parametrize(
    "tamper",
    [
        flip(0),  # magic
        flip(5),  # segment size
        flip(HEADER - 1),  # nonce prefix
        flip(HEADER),  # the first segment
        flip(HEADER + SEALED + 100),  # the middle segment: the first is already decrypted
        flip(-1),  # the last tag
        lambda c: c[:-1],
        lambda c: c[: HEADER + 2 * SEALED],  # the last segment dropped
        lambda c: c[: HEADER + SEALED] + c[HEADER + 2 * SEALED :],  # the middle one dropped
        lambda c: c[:HEADER] + c[HEADER + SEALED : HEADER + 2 * SEALED] + c[HEADER:],  # reordered
        lambda c: c + c[HEADER : HEADER + SEALED],  # one appended
        lambda c: c[:HEADER],  # no segments at all
    ],
    ids=[
        "magic",
        "segment size",
        "nonce prefix",
        "first segment",
        "middle segment",
        "last tag",
        "one byte short",
        "last dropped",
        "middle dropped",
        "reordered",
        "appended",
        "header only",
    ],
)
def test_a_tampered_ciphertext_is_a_decryption_error_and_writes_nothing(
    world: World, tamper: Callable[[bytes], bytes]
) -> None:
    token = world.republish(content=tamper(world.ciphertext()))
    error = world.fetch_fails(token, DecryptionError)
    assert "cannot decrypt" in str(error)


def test_a_ciphertext_of_another_asset_under_a_valid_envelope_fails(world: World) -> None:
    """An honest envelope, but content encrypted under another key."""
    source = world.out.parent / "other.bin"
    source.write_bytes(b"another asset")
    metadata = DatasetMetadata(name="other", properties=DatasetProperties(media_type="text/csv"))
    minted = world.assets.mint_dataset(source, metadata)
    source.unlink()
    stolen = world.assets.read_bytes(minted.content_cid)
    token = world.republish(content=stolen)
    world.fetch_fails(token, DecryptionError)
