"""Datasets and models as tokens: pin (encrypted where it must be), then mint;
read back verified; license and decrypt.

The order of a mint is the design's: hash and pin the content (encrypted to
the owner's DID key when private), pin the key envelope and the metadata,
confirm every pin, and only then send one transaction for the whole batch.
A retried call finds what an earlier attempt already minted (on chain, from
each batch's stored commitments) and mints only the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TypeAlias

from troika._errors import (
    AssetPermissionDenied,
    ChainError,
    ContentChanged,
    InvalidAssetArgument,
    MetadataMismatch,
    NotEntitled,
    PathNotFound,
)
from troika._files import write_json_atomically
from troika.assets._crypto import (
    CIPHER,
    EncryptingReader,
    Envelope,
    decrypt_to,
    key_agreement_key,
    new_content_key,
)
from troika.assets._metadata import (
    AssetMetadata,
    DatasetMetadata,
    Encryption,
    ModelMetadata,
    parse_metadata,
)
from troika.assets._registry import (
    MAX_BATCH,
    AssetKind,
    AssetRegistry,
    MintedBatch,
    commitment_cid,
)
from troika.chain._core import checked_address
from troika.did import DID, EthrDID, EthrResolver, Identity, Resolver
from troika.ipfs import CID, add, export_file, get_to

if TYPE_CHECKING:
    from troika.chain import Chain, Sender
    from troika.ipfs import PinningStore

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Asset",
    "Assets",
    "MintProgress",
    "MintRequest",
    "MintedAsset",
    "Party",
]

#: A party to encrypt to, license or mint to: an unlocked identity, a DID, or an address.
Party: TypeAlias = "Identity | DID | str"

#: Tokens per ``mintBatch`` transaction unless told otherwise (about 3M gas).
DEFAULT_BATCH_SIZE = 256

_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class MintRequest:
    """One asset to mint: its file, its metadata and how to mint it."""

    path: str | os.PathLike[str]
    metadata: AssetMetadata[Any] | Mapping[str, Any]
    to: Party | None = None
    encrypt: bool = True
    royalty_bps: int = 0
    parents: tuple[int, ...] = ()
    #: Others who may decrypt it from the start, besides the owner.
    readers: tuple[Party, ...] = ()


@dataclass(frozen=True)
class MintProgress:
    """Where a mint is: ``stage`` is ``"pin"`` (per asset, with bytes) or ``"mint"`` (per batch)."""

    stage: Literal["pin", "mint"]
    index: int
    count: int
    bytes_done: int = 0
    bytes_total: int | None = None
    path: str | None = None


@dataclass(frozen=True)
class MintedAsset:
    """A minted token and where its parts are pinned."""

    token_id: int
    owner: str
    metadata_cid: CID
    content_cid: CID
    envelope_cid: CID | None
    #: The transaction that minted it; None if an earlier attempt already had.
    tx_hash: str | None


@dataclass(frozen=True)
class Asset:
    """A token as the chain and IPFS know it, its metadata verified against the chain."""

    token_id: int
    kind: AssetKind
    owner: str
    metadata: DatasetMetadata | ModelMetadata
    metadata_cid: CID
    parents: tuple[int, ...]
    royalty_receiver: str
    royalty_bps: int

    @property
    def encrypted(self) -> bool:
        """True if the content is pinned encrypted."""
        return self.metadata.properties.encryption is not None


@dataclass
class _Prepared:
    """An asset pinned and ready to mint."""

    request: MintRequest
    to: str
    kind: AssetKind
    metadata: AssetMetadata[Any]
    document: bytes
    commitment: bytes
    content: CID
    envelope: CID | None
    pins: list[CID] = field(default_factory=list)


class _Journal:
    """What earlier attempts prepared and sent, so that a retry mints nothing twice.

    Holds public data only (CIDs, metadata, transaction hashes), never a key.
    In memory, or in a JSON file when given a path.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            self._entries = json.loads(path.read_text(encoding="utf-8"))

    def get(self, intent: str) -> dict[str, Any] | None:
        return self._entries.get(intent)

    def put(self, intent: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries[intent] = entry
            if self.path is None:
                return
            write_json_atomically(self.path, self._entries)


class _HashingReader(io.RawIOBase):
    """Reads a file once, hashing what passes (public content's checksum, in the same pass)."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


def _metadata_of(
    value: AssetMetadata[Any] | Mapping[str, Any], kind: AssetKind
) -> AssetMetadata[Any]:
    metadata = value if isinstance(value, AssetMetadata) else parse_metadata(value)
    wanted = DatasetMetadata if kind is AssetKind.DATASET else ModelMetadata
    if not isinstance(metadata, wanted):
        raise InvalidAssetArgument(
            "metadata", type(metadata).__name__, f"a {kind.name.lower()} needs {wanted.__name__}"
        )
    return metadata


def _file_identity(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _expiry(until: int | dt.datetime | dt.date) -> int:
    if isinstance(until, dt.datetime):
        if until.tzinfo is None:
            raise InvalidAssetArgument("until", until, "give a timezone-aware datetime (or UTC)")
        return int(until.timestamp())
    if isinstance(until, dt.date):
        return int(dt.datetime.combine(until, dt.time(), dt.UTC).timestamp())
    if isinstance(until, bool) or not isinstance(until, int):
        raise InvalidAssetArgument("until", until, "a unix time, a date or a datetime")
    return until


# -- the no-I/O core that Assets and AsyncAssets share --------------------------------------


def _did_of(party: Party, chain_id: int) -> DID:
    """The DID of a party; an address is a did:ethr on the chain ``chain_id``."""
    if isinstance(party, Identity):
        return party.did
    if isinstance(party, DID):
        return party
    if party.startswith("did:"):
        return DID.parse(party)
    from troika.did import ethr_did

    return ethr_did(party, chain_id)


def _account_of(party: Party) -> str:
    """The account address of a party (see :meth:`Assets.account_of`)."""
    if isinstance(party, Identity):
        return party.address
    if isinstance(party, str) and not party.startswith("did:"):
        try:
            return checked_address(party, "account")
        except ChainError as exc:
            raise InvalidAssetArgument(
                "account", party, "not an address, a DID or an Identity"
            ) from exc
    did = party if isinstance(party, DID) else DID.parse(party)
    if did.method == "ethr":
        return EthrDID.parse(did).address
    if did.method == "pkh":
        return did.method_specific_id.rsplit(":", 1)[-1]
    raise InvalidAssetArgument(
        "account",
        str(did),
        "tokens and licences need an account: did:ethr, did:pkh or an address",
    )


def _nonzero(account: str, argument: str = "to") -> str:
    if int(account, 16) == 0:
        raise InvalidAssetArgument(argument, account, "tokens cannot go to the zero address")
    return account


def _asset_file(request: MintRequest) -> Path:
    """The request's file, which must exist and be one file."""
    path = Path(request.path)
    if not path.exists():
        raise PathNotFound(str(path))
    if not path.is_file():
        raise InvalidAssetArgument(
            "path",
            str(path),
            "an asset is one file: pack a folder (tar, parquet) first",
        )
    return path


def _intent(
    request: MintRequest,
    metadata: AssetMetadata[Any],
    to: str,
    kind: AssetKind,
    path: Path,
    *,
    chain_id: int,
    registry: str,
    readers: Iterable[DID],
    profile: str,
) -> str:
    """The digest of everything a mint depends on: the journal's key for it."""
    size, mtime, inode = _file_identity(path)
    facts = {
        "chain": chain_id,
        "registry": registry,
        "to": to,
        "kind": int(kind),
        "royalty": request.royalty_bps,
        "parents": list(request.parents),
        "encrypt": request.encrypt,
        "readers": sorted(str(reader) for reader in readers),
        "metadata": metadata.to_json().decode(),
        "file": [str(path.resolve()), size, mtime, inode],
        "profile": profile,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _from_journal(
    request: MintRequest, to: str, kind: AssetKind, earlier: Mapping[str, Any]
) -> _Prepared:
    """An asset an earlier attempt prepared, as its journal entry records it."""
    document = earlier["document"].encode()
    envelope = earlier.get("envelope")
    return _Prepared(
        request,
        to,
        kind,
        parse_metadata(document),
        document,
        hashlib.sha256(document).digest(),
        CID.parse(earlier["content"]),
        CID.parse(envelope) if envelope else None,
        [CID.parse(c) for c in earlier["pins"]],
    )


def _journal_entry(prepared: _Prepared) -> dict[str, Any]:
    return {
        "document": prepared.document.decode(),
        "content": str(prepared.content),
        "envelope": str(prepared.envelope) if prepared.envelope else None,
        "pins": [str(cid) for cid in prepared.pins],
    }


class _ContentPass:
    """One read of an asset's file on its way to the store: encrypted under a new
    content key (private), or only hashed (public); either way the plaintext's
    size and sha2-256 come out of the same pass."""

    def __init__(self, file: BinaryIO, encrypt: bool) -> None:
        self._key: bytes | None = new_content_key() if encrypt else None
        self.reader: EncryptingReader | _HashingReader = (
            EncryptingReader(file, self._key) if self._key is not None else _HashingReader(file)
        )

    def seal(self, recipients: Sequence[tuple[str, bytes]]) -> bytes:
        """The envelope of the content key for ``recipients``; the key is dropped."""
        assert self._key is not None
        sealed = Envelope.seal(self._key, recipients).to_json()
        self._key = None
        return sealed

    def facts(self) -> tuple[int, str]:
        """The plaintext's size and sha2-256 (hex), once it was read to its end."""
        reader = self.reader
        if isinstance(reader, EncryptingReader):
            return reader.plaintext_size, reader.sha256
        return reader.size, reader.sha256.hexdigest()


def _changed(path: Path, before: tuple[int, int, int], size: int) -> bool:
    return _file_identity(path) != before or size != before[0]


def _completed(
    request: MintRequest,
    to: str,
    kind: AssetKind,
    metadata: AssetMetadata[Any],
    content: CID,
    facts: tuple[int, str],
    envelope: CID | None,
) -> _Prepared:
    """The asset with its metadata completed (content CID, size, checksum, encryption);
    its pins are the content, the envelope and the metadata block, in that order."""
    size, checksum = facts
    encryption = Encryption(envelope=str(envelope), cipher=CIPHER) if envelope else None
    full = metadata.with_content(content, size, f"sha256:{checksum}", encryption)
    document = full.to_json()
    pins = [content, *([envelope] if envelope is not None else []), CID.of(document)]
    return _Prepared(
        request,
        to,
        kind,
        full,
        document,
        hashlib.sha256(document).digest(),
        content,
        envelope,
        pins,
    )


def _check_pins(prepared: Sequence[_Prepared], pinned: set[CID]) -> None:
    """Every part of every asset is pinned, or nothing is minted."""
    pinned_v1 = {p.to_v1() for p in pinned}
    for item in prepared:
        for cid in item.pins:
            if cid not in pinned and cid.to_v1() not in pinned_v1:
                raise ContentChanged(f"{item.request.path} (its pin {cid} is gone)")


_BatchKey: TypeAlias = tuple[str, int, tuple[int, ...]]


class _MintPlan:
    """A mint's steps that do no I/O: every request validated before anything
    is pinned, then the pinned assets grouped into batches (one owner, royalty
    and parents each), what each batch still needs minted, and the results."""

    def __init__(
        self,
        requests: Sequence[MintRequest],
        kind: AssetKind,
        default_owner: Party,
    ) -> None:
        #: (request, its metadata, its owner's address, its owner as given)
        self.checked: list[tuple[MintRequest, AssetMetadata[Any], str, Party]] = []
        for request in requests:
            owner = request.to if request.to is not None else default_owner
            metadata = _metadata_of(request.metadata, kind)
            self.checked.append((request, metadata, _account_of(owner), owner))
        for request, _, to, _ in self.checked:
            _nonzero(to)
            if not 0 <= request.royalty_bps <= 10_000:
                raise InvalidAssetArgument(
                    "royalty_bps", request.royalty_bps, "a royalty is 0 to 10000 basis points"
                )
        self.prepared: list[_Prepared] = []
        self._minted: dict[tuple[str, bytes], tuple[int, str | None]] = {}

    def batches(self, batch_size: int) -> list[tuple[_BatchKey, list[_Prepared]]]:
        """The prepared assets by owner, royalty and parents, ``batch_size`` at most each."""
        groups: dict[_BatchKey, list[_Prepared]] = {}
        for item in self.prepared:
            key = (item.to, item.request.royalty_bps, item.request.parents)
            groups.setdefault(key, []).append(item)
        return [
            (key, items[start : start + batch_size])
            for key, items in groups.items()
            for start in range(0, len(items), batch_size)
        ]

    def todo(
        self, to: str, items: Sequence[_Prepared], existing: Mapping[bytes, int]
    ) -> list[bytes]:
        """The commitments of ``items`` still to mint, given those ``to`` already holds."""
        todo: list[bytes] = []
        for item in items:
            if item.commitment in existing:
                self._minted[(to, item.commitment)] = (existing[item.commitment], None)
            elif item.commitment not in todo and (to, item.commitment) not in self._minted:
                todo.append(item.commitment)
        return todo

    def record(self, to: str, todo: Sequence[bytes], batch: MintedBatch) -> None:
        for token_id, commitment in zip(batch.token_ids, todo, strict=True):
            self._minted[(to, commitment)] = (token_id, batch.tx_hash)

    def results(self) -> list[MintedAsset]:
        """The minted assets, in the order of the requests."""
        return [
            MintedAsset(
                token_id=self._minted[(item.to, item.commitment)][0],
                owner=item.to,
                metadata_cid=CID.of(item.document),
                content_cid=item.content,
                envelope_cid=item.envelope,
                tx_hash=self._minted[(item.to, item.commitment)][1],
            )
            for item in self.prepared
        ]


def _checked_metadata(
    token_id: int, commitment: bytes, cid: CID, document: bytes
) -> DatasetMetadata | ModelMetadata:
    """The metadata block ``document``, checked against the token's commitment."""
    if hashlib.sha256(document).digest() != commitment:
        raise MetadataMismatch(token_id, cid, "does not hash to the commitment on chain")
    try:
        return parse_metadata(document)
    except ValueError as exc:
        raise MetadataMismatch(token_id, cid, f"is not asset metadata: {exc}") from exc


def _check_checksum(token_id: int, content: CID, target: Path, checksum: str | None) -> Path:
    """``target`` if it matches the metadata's checksum; removed, and an error, if not."""
    if checksum is None:
        return target
    digest = hashlib.sha256()
    with target.open("rb") as file:
        while piece := file.read(_READ_SIZE):
            digest.update(piece)
    if f"sha256:{digest.hexdigest()}" != checksum:
        target.unlink()
        raise MetadataMismatch(token_id, content, "content does not match its checksum")
    return target


def _identity_key(identity: Identity) -> tuple[str, bytes]:
    """An unlocked identity's own key id and X25519 public key (no resolution needed)."""
    return f"{identity.did}#key-agreement", identity.key_agreement_public


def _key_grant(key: bytes, recipient: tuple[str, bytes]) -> tuple[CID, bytes, bytes]:
    """A content key wrapped for one licensee: the block to pin, its CID, and the
    digest that the licence publishes on chain."""
    document = Envelope.seal(key, [recipient]).to_json()
    return CID.of(document), document, hashlib.sha256(document).digest()


def _opened(envelope: bytes, identity: Identity) -> bytes | None:
    """The content key in an envelope (or key grant) for ``identity``, or None."""
    try:
        return Envelope.from_json(envelope).open(identity.key_agreement())
    except NotEntitled:
        return None


class Assets:
    """Mint, read, license and fetch data and model assets.

    Args:
        chain: The chain of the registry.
        store: Where content, envelopes and metadata are pinned (a
            :class:`~troika.ipfs.LocalStore` or a :class:`~troika.ipfs.KuboStore`).
        registry: The :class:`AssetRegistry`; troika's recorded one on the
            chain, deployed on first use, if None.
        identity: Who acts: signs the owner's transactions (licences,
            transfers), receives mints by default, and decrypts content.
        sender: Who signs the owner's transactions instead of ``identity``;
            the chain's default sender if neither is given.
        minter: Who signs ``mintBatch`` (an account with the registry's
            ``MINTER_ROLE``, that pays for the mint); ``sender`` by default.
        resolver: Resolves the DIDs whose keys content is encrypted to; one
            for did:ethr on ``chain`` (plus did:key, did:pkh, did:web) if None.
        journal: A file recording prepared mints, so a retry in a new process
            mints nothing twice; in memory if None.
        profile: The import profile of the content (``"kubo-v0"`` or ``"v1-2025"``).

    Example:
        >>> from troika.assets import DatasetMetadata, DatasetProperties
        >>> from troika.chain import Chain
        >>> from troika.ipfs import LocalStore
        >>> chain = Chain.embedded()
        >>> assets = Assets(chain, LocalStore(tmp_path / "ipfs"))
        >>> _ = (tmp_path / "rows.csv").write_text("a,b\\n1,2\\n")
        >>> metadata = DatasetMetadata(
        ...     name="rows", properties=DatasetProperties(media_type="text/csv")
        ... )
        >>> minted = assets.mint_dataset(tmp_path / "rows.csv", metadata, encrypt=False)
        >>> asset = assets.asset(minted.token_id)
        >>> asset.metadata.name, asset.metadata.properties.size
        ('rows', 8)
        >>> assets.fetch(minted.token_id, tmp_path / "copy.csv").read_text()
        'a,b\\n1,2\\n'
    """

    def __init__(
        self,
        chain: Chain,
        store: PinningStore,
        registry: AssetRegistry | None = None,
        *,
        identity: Identity | None = None,
        sender: Sender | None = None,
        minter: Sender | None = None,
        resolver: Resolver | None = None,
        journal: str | os.PathLike[str] | None = None,
        profile: str = "kubo-v0",
    ) -> None:
        self.chain = chain
        self.store = store
        self.identity = identity
        self.sender: Sender = (
            sender
            if sender is not None
            else identity.signer
            if identity is not None
            else chain.default_sender
        )
        self.minter: Sender = minter if minter is not None else self.sender
        self.registry = registry or AssetRegistry.at_or_deploy(chain, sender=self.minter)
        if resolver is None:
            resolver = Resolver()
            resolver.register("ethr", EthrResolver({chain.chain_id: chain}))
        self.resolver = resolver
        self.profile = profile
        self._journal = _Journal(Path(journal) if journal is not None else None)

    def __repr__(self) -> str:
        return f"Assets(registry={self.registry.address!r}, identity={self.identity!r})"

    # -- parties --------------------------------------------------------------------

    @property
    def sender_address(self) -> str:
        """The address that signs this object's transactions."""
        return self.sender if isinstance(self.sender, str) else self.sender.address

    def _did_of(self, party: Party) -> DID:
        return _did_of(party, self.chain.chain_id)

    def account_of(self, party: Party) -> str:
        """The account address of an identity, a did:ethr or did:pkh, or an address.

        Raises:
            InvalidAssetArgument: a DID of a method without accounts, or not an address.
        """
        return _account_of(party)

    def key_of(self, party: Party) -> tuple[str, bytes]:
        """The key id and X25519 public key to encrypt to: an unlocked identity's
        own, else the one published on the party's DID document.

        Raises:
            NoKeyAgreementKey: the DID document publishes no X25519 key.
            DIDResolutionError: the DID does not resolve.
        """
        if isinstance(party, Identity):
            return _identity_key(party)
        return key_agreement_key(self.resolver.resolve_document(self._did_of(party)))

    # -- minting --------------------------------------------------------------------

    def mint_dataset(
        self,
        path: str | os.PathLike[str],
        metadata: DatasetMetadata | Mapping[str, Any],
        *,
        to: Party | None = None,
        encrypt: bool = True,
        royalty_bps: int = 0,
        readers: Sequence[Party] = (),
        progress: Callable[[MintProgress], None] | None = None,
    ) -> MintedAsset:
        """Pin a dataset file (encrypted to its owner unless ``encrypt=False``) and mint it.

        Args:
            path: The dataset, one file (pack a folder into one first).
            metadata: Its :class:`DatasetMetadata` (or the dict of one); the
                content fields (CID, size, checksum, encryption) are filled in.
            to: The owner; this object's identity (or sender) if None.
            encrypt: Encrypt the content to the owner's DID key before pinning.
            royalty_bps: The ERC-2981 royalty to the owner, in basis points.
            readers: Others who may decrypt it from the start.
            progress: Called as bytes are pinned and as the batch is minted.

        Raises:
            InvalidMetadata: the metadata fails validation (every problem listed).
            PathNotFound, InvalidAssetArgument: no such file, or a folder.
            ContentChanged: the file changed while it was pinned; nothing is minted.
            NoKeyAgreementKey: an owner or reader publishes no key to encrypt to.
            AssetPermissionDenied: the sender may not mint or cannot pay.
        """
        request = MintRequest(path, metadata, to, encrypt, royalty_bps, (), tuple(readers))
        (minted,) = self._mint([request], AssetKind.DATASET, DEFAULT_BATCH_SIZE, progress)
        return minted

    def mint_model(
        self,
        path: str | os.PathLike[str],
        metadata: ModelMetadata | Mapping[str, Any],
        *,
        to: Party | None = None,
        encrypt: bool = True,
        royalty_bps: int = 0,
        parents: Sequence[int] = (),
        readers: Sequence[Party] = (),
        progress: Callable[[MintProgress], None] | None = None,
    ) -> MintedAsset:
        """Pin a model file (weights; a model is data, never code) and mint it.

        ``parents`` are the tokens it derives from (the datasets it was trained
        on, its base model); the rest is as for :meth:`mint_dataset`.
        """
        request = MintRequest(
            path, metadata, to, encrypt, royalty_bps, tuple(parents), tuple(readers)
        )
        (minted,) = self._mint([request], AssetKind.MODEL, DEFAULT_BATCH_SIZE, progress)
        return minted

    def mint_batch(
        self,
        requests: Iterable[MintRequest],
        *,
        kind: AssetKind = AssetKind.DATASET,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Callable[[MintProgress], None] | None = None,
    ) -> list[MintedAsset]:
        """Pin many assets, then mint them in as few transactions as possible.

        Requests that share an owner, royalty and parents go in one
        ``mintBatch`` of up to ``batch_size`` tokens. Every pin is confirmed
        before the first transaction. Returns the minted assets in the order
        of ``requests``.
        """
        if not 1 <= batch_size <= MAX_BATCH:
            raise InvalidAssetArgument("batch_size", batch_size, f"1 to {MAX_BATCH} tokens")
        return self._mint(list(requests), kind, batch_size, progress)

    def _mint(
        self,
        requests: list[MintRequest],
        kind: AssetKind,
        batch_size: int,
        progress: Callable[[MintProgress], None] | None,
    ) -> list[MintedAsset]:
        if not requests:
            return []
        owner = self.identity if self.identity is not None else self.sender_address
        plan = _MintPlan(requests, kind, owner)  # everything checked before anything is pinned
        for index, (request, metadata, to, party) in enumerate(plan.checked):
            plan.prepared.append(
                self._prepare(request, metadata, to, party, kind, index, len(requests), progress)
            )
        _check_pins(plan.prepared, self.store.pins())
        # An earlier attempt's transaction still unmined would be missed below.
        self.registry.wait_settled(
            self.minter if isinstance(self.minter, str) else self.minter.address
        )
        batches = plan.batches(batch_size)
        for number, ((to, royalty, parents), items) in enumerate(batches):
            todo = plan.todo(to, items, self.registry.minted_commitments(to))
            if todo:
                # On TransactionTimeout the transaction may still be mined: a
                # retry looks on chain first.
                batch = self.registry.mint_batch(
                    to, kind, todo, royalty_bps=royalty, parents=parents, sender=self.minter
                )
                plan.record(to, todo, batch)
            if progress is not None:
                progress(MintProgress("mint", number, len(batches)))
        return plan.results()

    def _prepare(
        self,
        request: MintRequest,
        metadata: AssetMetadata[Any],
        to: str,
        owner: Party,
        kind: AssetKind,
        index: int,
        count: int,
        progress: Callable[[MintProgress], None] | None,
    ) -> _Prepared:
        path = _asset_file(request)
        intent = _intent(
            request,
            metadata,
            to,
            kind,
            path,
            chain_id=self.chain.chain_id,
            registry=self.registry.address,
            readers=[self._did_of(reader) for reader in request.readers],
            profile=self.profile,
        )
        earlier = self._journal.get(intent)
        if earlier is not None and all(self.store.has(CID.parse(c)) for c in earlier["pins"]):
            return _from_journal(request, to, kind, earlier)

        before = _file_identity(path)

        def report(done: int, total: int | None) -> None:
            if progress is not None:
                progress(MintProgress("pin", index, count, done, before[0], str(path)))

        recipients = (
            [self.key_of(party) for party in (owner, *request.readers)] if request.encrypt else []
        )
        envelope: CID | None = None
        with path.open("rb") as file:
            reading = _ContentPass(file, request.encrypt)
            content = add(reading.reader, store=self.store, profile=self.profile, progress=report)
            if request.encrypt:
                envelope = add(reading.seal(recipients), store=self.store, profile=self.profile)
        facts = reading.facts()
        if _changed(path, before, facts[0]):
            for cid in (content, envelope):
                if cid is not None:
                    self.store.unpin(cid)
            raise ContentChanged(path)

        prepared = _completed(request, to, kind, metadata, content, facts, envelope)
        self.pin_block(prepared.document)
        self._journal.put(intent, _journal_entry(prepared))
        return prepared

    # -- reading ----------------------------------------------------------------------

    def asset(self, token_id: int) -> Asset:
        """The token, with its metadata fetched from the store and checked
        against the commitment on chain.

        Raises:
            AssetNotFound: no such token.
            MetadataMismatch: the metadata does not hash to the commitment, or
                is not valid asset metadata.
            BlockNotFound: the store lacks the metadata block.
        """
        commitment = self.registry.commitment_of(token_id)
        cid = commitment_cid(commitment)
        metadata = _checked_metadata(token_id, commitment, cid, self.store.get(cid))
        receiver, amount = self.registry.royalty_info(token_id, 10_000)
        return Asset(
            token_id=token_id,
            kind=self.registry.kind_of(token_id),
            owner=self.registry.owner_of(token_id),
            metadata=metadata,
            metadata_cid=cid,
            parents=self.registry.parents_of(token_id),
            royalty_receiver=receiver,
            royalty_bps=amount,
        )

    def assets_of(self, owner: Party) -> list[int]:
        """The tokens ``owner`` holds, from the registry's Transfer events (read in pages)."""
        return self.registry.tokens_of(self.account_of(owner))

    def has_access(self, token_id: int, party: Party) -> bool:
        """True if ``party`` owns the token or holds an unexpired licence."""
        return self.registry.has_access(token_id, self.account_of(party))

    def royalty_info(self, token_id: int, sale_price: int) -> tuple[str, int]:
        """ERC-2981: the receiver and amount of the royalty on a sale at ``sale_price``."""
        return self.registry.royalty_info(token_id, sale_price)

    def transfer(self, token_id: int, to: Party) -> str:
        """Give the token to ``to`` (sent by its owner); returns the transaction hash.

        Licences stay with the token; the new owner may revoke them.
        """
        address = _nonzero(self.account_of(to))
        return self.registry.transfer(token_id, address, sender=self.sender).tx_hash

    def _content_key(self, token_id: int, asset: Asset, identity: Identity) -> bytes:
        encryption = asset.metadata.properties.encryption
        assert encryption is not None
        key = _opened(self.read_bytes(CID.parse(encryption.envelope)), identity)
        if key is not None:
            return key
        for digest in reversed(self.registry.key_grants(token_id, identity.address)):
            key = _opened(self.store.get(commitment_cid(digest)), identity)
            if key is not None:
                return key
        raise NotEntitled(token_id, identity.did)

    def pin_block(self, document: bytes) -> CID:
        """Put ``document`` in the store as one raw block and pin it: its CIDv1
        ``bafkrei...`` is :func:`commitment_cid` of its sha2-256 digest, the
        form troika commits to on chain (metadata, key grants, job documents)."""
        cid = CID.of(document)
        self.store.put(cid, document)
        self.store.pin(cid)
        return cid

    def pin_bytes(self, data: bytes) -> CID:
        """Add ``data`` to the store as a UnixFS file (as ``ipfs add`` would) and pin it."""
        return add(data, store=self.store, profile=self.profile)

    def read_bytes(self, cid: CID | str) -> bytes:
        """The UnixFS file ``cid`` from the store, every block verified."""
        return b"".join(export_file(self.store, cid))

    def fetch(
        self,
        token_id: int,
        out: str | os.PathLike[str],
        *,
        identity: Identity | None = None,
    ) -> Path:
        """Write the token's content to ``out``: every block verified, decrypted
        when it is private (with ``identity``'s key, this object's by default).

        Nothing is left at ``out`` if anything fails.

        Raises:
            AssetPermissionDenied: private content, and the identity neither
                owns the token nor holds an unexpired licence.
            NotEntitled: no content key is wrapped for the identity.
            DecryptionError: the content or an envelope was tampered with.
            VerificationError: the store sent a block that is not its CID's.
        """
        asset = self.asset(token_id)
        content = CID.parse(asset.metadata.properties.content or "")
        if not asset.encrypted:
            target = get_to(content, out, source=self.store)
            return _check_checksum(token_id, content, target, asset.metadata.properties.checksum)
        reader = identity or self.identity
        if reader is None:
            raise NotEntitled(token_id, "(no identity given)")
        if not self.registry.has_access(token_id, reader.address):
            raise AssetPermissionDenied(
                token_id, reader.address, "neither owns the token nor holds an unexpired licence"
            )
        key = self._content_key(token_id, asset, reader)
        return decrypt_to(export_file(self.store, content), key, out)

    # -- licences -----------------------------------------------------------------------

    def grant_license(
        self,
        token_id: int,
        licensee: Party,
        until: int | dt.datetime | dt.date,
    ) -> str:
        """Let ``licensee`` use the token until ``until`` (sent by the owner).

        For private content the content key is first wrapped to the
        licensee's DID key and pinned, and its digest published with the
        licence, so :meth:`fetch` finds it. Returns the transaction hash.

        Raises:
            NoKeyAgreementKey: private content, and the licensee's DID
                publishes no key to encrypt to (nothing is granted).
            InvalidAssetArgument: an expiry in the past, a zero address.
            AssetPermissionDenied: the sender does not own the token.
        """
        expiry = _expiry(until)
        account = self.account_of(licensee)
        asset = self.asset(token_id)
        key_grant: bytes | None = None
        if asset.encrypted:
            kid, public = self.key_of(licensee)
            if self.identity is None:
                raise NotEntitled(token_id, "(no identity given)")
            key = self._content_key(token_id, asset, self.identity)
            _, document, key_grant = _key_grant(key, (kid, public))
            self.pin_block(document)
        receipt = self.registry.grant_license(
            token_id, account, expiry, key_grant=key_grant, sender=self.sender
        )
        return receipt.tx_hash

    def revoke_license(self, token_id: int, licensee: Party) -> str:
        """End ``licensee``'s licence now (sent by the owner).

        troika wraps no further keys for it, and compute jobs stop accepting
        it; a content key it already fetched cannot be taken back.
        """
        return self.registry.revoke_license(
            token_id, self.account_of(licensee), sender=self.sender
        ).tx_hash

    def license_expiry(self, token_id: int, licensee: Party) -> int:
        """When ``licensee``'s licence ends (unix time; 0 if none)."""
        return self.registry.license_expiry(token_id, self.account_of(licensee))
