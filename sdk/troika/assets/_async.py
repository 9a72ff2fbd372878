"""The asyncio twins of :class:`~troika.assets.AssetRegistry` and
:class:`~troika.assets.Assets`: the same methods and errors, awaited.

Both are thin: every check, error table, journal entry, batch grouping and
result is the synchronous twin's own code (the no-I/O cores of ``_registry``
and ``_assets``); only the calls to the chain, the store and the DID resolver
are awaited here. What only reads or hashes a local file (encrypting and
importing content, decrypting it, checking a checksum) runs in worker
threads, so the event loop never waits on the disk or the CPU.

As on :class:`~troika.chain.AsyncChain`, what the sync twins expose as a
property that asks the node (``registry``, ``sender_address``,
``deployed_at``) is a coroutine method here; what does no I/O
(``account_of``, ``address``) stays a plain method or property.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from troika._contracts import AsyncContractWrapper
from troika._errors import (
    AssetPermissionDenied,
    ContentChanged,
    InvalidAssetArgument,
    MintPending,
    NotEntitled,
)
from troika.assets._assets import (
    DEFAULT_BATCH_SIZE,
    Asset,
    MintedAsset,
    MintProgress,
    MintRequest,
    Party,
    _account_of,
    _asset_file,
    _changed,
    _check_checksum,
    _check_pins,
    _checked_metadata,
    _completed,
    _ContentPass,
    _did_of,
    _expiry,
    _file_identity,
    _from_journal,
    _identity_key,
    _intent,
    _Journal,
    _journal_entry,
    _key_grant,
    _MintPlan,
    _nonzero,
    _opened,
    _Prepared,
)
from troika.assets._crypto import decrypt_to, key_agreement_key
from troika.assets._metadata import AssetMetadata, DatasetMetadata, ModelMetadata
from troika.assets._registry import (
    DEFAULT_LOG_PAGE,
    MAX_BATCH,
    REGISTRY_CONTRACT,
    AssetKind,
    BatchInfo,
    MintedBatch,
    _add_commitments,
    _address_of,
    _asset_errors,
    _held_tokens,
    _license_call,
    _mint_arguments,
    _minted_batch,
    _sent_by,
    _transfer_call,
    _unmined,
    commitment_cid,
)
from troika.did import DID, AsyncEthrResolver, AsyncResolver, EthrNetwork, Identity
from troika.ipfs import CID, aadd, aget, export_file, get_to

if TYPE_CHECKING:  # the chain layer loads web3: only when a registry is used
    from troika.chain import AsyncChain, Receipt, Sender
    from troika.ipfs import AsyncKuboStore, AsyncLocalStore

__all__ = ["AsyncAssetRegistry", "AsyncAssets"]

_T = TypeVar("_T")


class AsyncAssetRegistry(AsyncContractWrapper):
    """:class:`~troika.assets.AssetRegistry` for asyncio, over an
    :class:`~troika.chain.AsyncContract`: the same typed calls and errors, awaited.

    Example:
        >>> import asyncio
        >>> from troika.chain import AsyncChain
        >>> async def main() -> tuple[tuple[int, ...], bool, str]:
        ...     async with AsyncChain.embedded() as chain:
        ...         registry = await AsyncAssetRegistry.deploy(chain)
        ...         owner = (await chain.accounts())[1]
        ...         minted = await registry.mint_batch(
        ...             owner, AssetKind.DATASET, [bytes(32), b"\\x01" * 32]
        ...         )
        ...         return (
        ...             minted.token_ids,
        ...             await registry.owner_of(2) == owner,
        ...             await registry.token_uri(1),
        ...         )
        >>> asyncio.run(main())
        ((1, 2), True, 'ipfs://bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')
    """

    CONTRACT = REGISTRY_CONTRACT

    @classmethod
    async def deploy(
        cls, chain: AsyncChain, *, admin: str | None = None, sender: Sender | None = None
    ) -> AsyncAssetRegistry:
        """Deploy a registry whose admin (and first minter) is ``admin`` (the
        sender by default), and record it in the chain's deployments."""
        origin = sender if sender is not None else await chain.default_sender()
        owner = admin or _address_of(origin)
        return cls(await chain.deploy(REGISTRY_CONTRACT, owner, sender=sender))

    @classmethod
    async def at(cls, chain: AsyncChain, address: str | None = None) -> AsyncAssetRegistry:
        """The registry at ``address``, or troika's recorded deployment on this chain.

        Raises:
            DeploymentNotFound: no address given and none recorded.
        """
        if address is not None:
            return cls(chain.contract(REGISTRY_CONTRACT, address))
        return cls(await chain.deployment(REGISTRY_CONTRACT))

    @classmethod
    async def at_or_deploy(
        cls, chain: AsyncChain, *, sender: Sender | None = None
    ) -> AsyncAssetRegistry:
        """troika's recorded registry on this chain, deployed first if there is none."""
        if (await chain.deployments()).get(REGISTRY_CONTRACT) is not None:
            return await cls.at(chain)
        return await cls.deploy(chain, sender=sender)

    async def _call(self, function: str, *args: Any, token_id: int | None = None) -> Any:
        with _asset_errors(token_id, "(caller)"):
            return await self.contract.call(function, *args)

    async def _send(
        self, function: str, *args: Any, sender: Sender | None, token_id: int | None = None
    ) -> Receipt:
        origin = sender if sender is not None else await self.chain.default_sender()
        with _asset_errors(token_id, _address_of(origin)):
            return await self.contract.transact(function, *args, sender=sender)

    # -- minting ------------------------------------------------------------------

    async def mint_batch(
        self,
        to: str,
        kind: AssetKind,
        commitments: Sequence[bytes],
        *,
        royalty_bps: int = 0,
        parents: Sequence[int] = (),
        sender: Sender | None = None,
    ) -> MintedBatch:
        """Mint one token per metadata commitment (sha2-256 digests) to ``to``.

        Raises:
            InvalidAssetArgument: an empty or oversized batch, a zero
                address, a royalty over 10000 bps, a commitment not 32 bytes.
            AssetNotFound: a parent token does not exist.
            AssetPermissionDenied: the sender may not mint, or cannot pay.
        """
        arguments = _mint_arguments(to, kind, commitments, royalty_bps, parents)
        receipt = await self._send("mintBatch", *arguments, sender=sender)
        return _minted_batch(self.contract, receipt)

    # -- reads --------------------------------------------------------------------

    async def total_minted(self) -> int:
        """How many tokens exist (ids 1 to this)."""
        return int(await self._call("totalMinted"))

    async def owner_of(self, token_id: int) -> str:
        """The token's owner.

        Raises:
            AssetNotFound: no such token.
        """
        return str(await self._call("ownerOf", token_id, token_id=token_id))

    async def balance_of(self, account: str) -> int:
        """How many tokens ``account`` holds."""
        return int(await self._call("balanceOf", account))

    async def commitment_of(self, token_id: int) -> bytes:
        """The sha2-256 digest of the token's metadata JSON."""
        return bytes(await self._call("commitmentOf", token_id, token_id=token_id))

    async def metadata_cid(self, token_id: int) -> CID:
        """The CID of the token's metadata block, from its commitment."""
        return commitment_cid(await self.commitment_of(token_id))

    async def token_uri(self, token_id: int) -> str:
        """``ipfs://`` + the metadata CID, as the contract computes it."""
        return str(await self._call("tokenURI", token_id, token_id=token_id))

    async def kind_of(self, token_id: int) -> AssetKind:
        """Dataset or model."""
        return AssetKind(int(await self._call("kindOf", token_id, token_id=token_id)))

    async def parents_of(self, token_id: int) -> tuple[int, ...]:
        """The tokens this one derives from."""
        parents = await self._call("parentsOf", token_id, token_id=token_id)
        return tuple(int(p) for p in parents)

    async def batch_of(self, token_id: int) -> BatchInfo:
        """The batch the token was minted in."""
        first, count = await self._call("batchOf", token_id, token_id=token_id)
        return BatchInfo(int(first), int(count))

    async def royalty_info(self, token_id: int, sale_price: int) -> tuple[str, int]:
        """ERC-2981: who gets the royalty of a sale at ``sale_price``, and how much."""
        receiver, amount = await self._call("royaltyInfo", token_id, sale_price, token_id=token_id)
        return str(receiver), int(amount)

    async def license_expiry(self, token_id: int, account: str) -> int:
        """When ``account``'s licence ends (unix time; 0: none)."""
        return int(await self._call("licenseExpiry", token_id, account, token_id=token_id))

    async def has_access(self, token_id: int, account: str) -> bool:
        """True if ``account`` owns the token or holds an unexpired licence."""
        return bool(await self._call("hasAccess", token_id, account, token_id=token_id))

    async def is_minter(self, account: str) -> bool:
        """True if ``account`` may mint."""
        role = bytes(await self._call("MINTER_ROLE"))
        return bool(await self._call("hasRole", role, account))

    async def wait_settled(self, account: str, *, timeout: float | None = None) -> None:
        """Wait until ``account`` has no unmined transactions (see
        :meth:`AssetRegistry.wait_settled`).

        Raises:
            MintPending: some are still unmined after ``timeout``.
        """
        limit = self.chain.receipt_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            pending = _unmined(
                await self.chain.w3.eth.get_transaction_count(account, "pending"),  # type: ignore[arg-type]
                await self.chain.w3.eth.get_transaction_count(account, "latest"),  # type: ignore[arg-type]
            )
            if pending == 0:
                self.chain.nonces.forget(account)  # see AssetRegistry.wait_settled
                return
            if time.monotonic() >= deadline:
                raise MintPending(account, pending, limit)
            await asyncio.sleep(self.chain.poll_interval)

    # -- changes --------------------------------------------------------------------

    async def grant_minter(self, account: str, *, sender: Sender | None = None) -> Receipt:
        """Let ``account`` mint (sent by an admin)."""
        role = bytes(await self._call("MINTER_ROLE"))
        return await self._send("grantRole", role, account, sender=sender)

    async def transfer(
        self, token_id: int, to: str, *, sender: Sender | None = None, safe: bool = True
    ) -> Receipt:
        """Move the token from its owner to ``to`` (see :meth:`AssetRegistry.transfer`)."""
        owner = await self.owner_of(token_id)
        function, arguments = _transfer_call(owner, to, token_id, safe)
        return await self._send(function, *arguments, sender=sender, token_id=token_id)

    async def approve(
        self, token_id: int, account: str, *, sender: Sender | None = None
    ) -> Receipt:
        """Let ``account`` transfer the token and manage its licences."""
        return await self._send("approve", account, token_id, sender=sender, token_id=token_id)

    async def grant_license(
        self,
        token_id: int,
        account: str,
        expiry: int,
        *,
        key_grant: bytes | None = None,
        sender: Sender | None = None,
    ) -> Receipt:
        """Let ``account`` use the token until ``expiry`` (unix time, exclusive);
        with ``key_grant``, publish the digest of its wrapped content key too."""
        function, arguments = _license_call(token_id, account, expiry, key_grant)
        return await self._send(function, *arguments, sender=sender, token_id=token_id)

    async def revoke_license(
        self, token_id: int, account: str, *, sender: Sender | None = None
    ) -> Receipt:
        """End ``account``'s licence now."""
        return await self._send(
            "revokeLicense", token_id, account, sender=sender, token_id=token_id
        )

    async def set_royalty(
        self, token_id: int, receiver: str, royalty_bps: int, *, sender: Sender | None = None
    ) -> Receipt:
        """Change the token's royalty (sent by its current receiver)."""
        return await self._send(
            "setRoyalty", token_id, receiver, royalty_bps, sender=sender, token_id=token_id
        )

    # -- history ----------------------------------------------------------------------

    async def tokens_of(self, owner: str, *, page: int = DEFAULT_LOG_PAGE) -> list[int]:
        """The tokens ``owner`` holds now, from the Transfer events to and from it, sorted."""
        moves = [event async for event in self.events("Transfer", page=page, to=owner)]
        moves += [event async for event in self.events("Transfer", page=page, **_sent_by(owner))]
        return _held_tokens(owner, moves)

    async def batches_minted_to(
        self, owner: str, *, page: int = DEFAULT_LOG_PAGE
    ) -> list[tuple[int, str]]:
        """Every batch minted to ``owner``: (first id, data contract address), oldest first."""
        return [
            (int(event.args["firstId"]), str(event.args["data"]))
            async for event in self.events("BatchMinted", page=page, owner=owner)
        ]

    async def minted_commitments(
        self, owner: str, *, page: int = DEFAULT_LOG_PAGE
    ) -> dict[bytes, int]:
        """Every commitment minted to ``owner``, with its token id (the first if repeated);
        see :meth:`AssetRegistry.minted_commitments`."""
        found: dict[bytes, int] = {}
        for first, data in await self.batches_minted_to(owner, page=page):
            _add_commitments(found, first, await self.chain.code(data))
        return found

    async def key_grants(self, token_id: int, account: str) -> list[bytes]:
        """The digests of the content keys wrapped for ``account`` on ``token_id``, newest last."""
        return [
            bytes(event.args["keyGrant"])
            async for event in self.events("LicenseKeyGranted", tokenId=token_id, account=account)
        ]


class _LoopBlocks:
    """An async store as a block source for the synchronous exporter in a worker
    thread: each ``get`` runs on the event loop while the thread waits for it,
    so a file streams through one block at a time. Never used on the loop's thread."""

    def __init__(
        self, store: AsyncKuboStore | AsyncLocalStore, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._store = store
        self._loop = loop
        self._stopped = threading.Event()

    def get(self, cid: CID) -> bytes:
        if self._stopped.is_set():
            raise asyncio.CancelledError(f"stopped before block {cid}")
        return asyncio.run_coroutine_threadsafe(self._store.get(cid), self._loop).result()

    def stop(self) -> None:
        self._stopped.set()


async def _with_blocks(
    store: AsyncKuboStore | AsyncLocalStore, work: Callable[[_LoopBlocks], _T]
) -> _T:
    """Run ``work`` over the store's blocks in a thread of its own.

    Not in the default executor: ``work`` waits on the loop for each block, and
    an :class:`~troika.ipfs.AsyncLocalStore` reads blocks in the default
    executor's threads, so enough concurrent fetches holding those threads
    would wait for each other forever.
    """
    loop = asyncio.get_running_loop()
    blocks = _LoopBlocks(store, loop)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="troika-assets-fetch")
    try:
        return await loop.run_in_executor(executor, work, blocks)
    finally:
        blocks.stop()  # a cancelled fetch ends at its next block
        executor.shutdown(wait=False)


class AsyncAssets:
    """:class:`~troika.assets.Assets` for asyncio: mint, read, license and fetch
    data and model assets, with the same methods, order of a mint and errors.

    Content is read, encrypted and hashed in worker threads as it streams to
    the store (through :func:`troika.ipfs.aadd`), and fetched and decrypted
    the same way, one block at a time.

    Args:
        chain: The :class:`~troika.chain.AsyncChain` of the registry.
        store: Where content, envelopes and metadata are pinned (an
            :class:`~troika.ipfs.AsyncLocalStore` or an
            :class:`~troika.ipfs.AsyncKuboStore`).
        registry: The :class:`AsyncAssetRegistry`; troika's recorded one on
            the chain, deployed on first use, if None (see :meth:`registry`).
        identity: Who acts: signs the owner's transactions, receives mints by
            default, and decrypts content.
        sender: Who signs the owner's transactions instead of ``identity``;
            the chain's default sender if neither is given.
        minter: Who signs ``mintBatch``; ``sender`` by default.
        resolver: Resolves the DIDs whose keys content is encrypted to; an
            :class:`~troika.did.AsyncResolver` with did:ethr on ``chain`` (plus
            did:key, did:pkh) if None.
        journal: A file recording prepared mints, so a retry in a new process
            mints nothing twice; in memory if None.
        profile: The import profile of the content (``"kubo-v0"`` or ``"v1-2025"``).

    Example:
        >>> import asyncio
        >>> from troika.assets import DatasetMetadata, DatasetProperties
        >>> from troika.chain import AsyncChain
        >>> from troika.ipfs import AsyncLocalStore
        >>> _ = (tmp_path / "rows.csv").write_text("a,b\\n1,2\\n")
        >>> metadata = DatasetMetadata(
        ...     name="rows", properties=DatasetProperties(media_type="text/csv")
        ... )
        >>> async def main() -> tuple[str, int | None, str]:
        ...     async with AsyncChain.embedded() as chain:
        ...         assets = AsyncAssets(chain, AsyncLocalStore(tmp_path / "ipfs"))
        ...         minted = await assets.mint_dataset(
        ...             tmp_path / "rows.csv", metadata, encrypt=False
        ...         )
        ...         asset = await assets.asset(minted.token_id)
        ...         copy = await assets.fetch(minted.token_id, tmp_path / "copy.csv")
        ...         return asset.metadata.name, asset.metadata.properties.size, copy.read_text()
        >>> asyncio.run(main())
        ('rows', 8, 'a,b\\n1,2\\n')
    """

    def __init__(
        self,
        chain: AsyncChain,
        store: AsyncKuboStore | AsyncLocalStore,
        registry: AsyncAssetRegistry | None = None,
        *,
        identity: Identity | None = None,
        sender: Sender | None = None,
        minter: Sender | None = None,
        resolver: AsyncResolver | None = None,
        journal: str | os.PathLike[str] | None = None,
        profile: str = "kubo-v0",
    ) -> None:
        self.chain = chain
        self.store = store
        self.identity = identity
        #: Who signs the owner's transactions; None: the chain's default sender.
        self.sender: Sender | None = (
            sender if sender is not None else identity.signer if identity is not None else None
        )
        self.minter: Sender | None = minter if minter is not None else self.sender
        self._registry = registry
        self._registry_lock = asyncio.Lock()
        if resolver is None:
            resolver = AsyncResolver()
            resolver.register("ethr", AsyncEthrResolver([EthrNetwork(chain)]))
        self.resolver = resolver
        self.profile = profile
        self._journal = _Journal(Path(journal) if journal is not None else None)

    def __repr__(self) -> str:
        registry = self._registry.address if self._registry is not None else None
        return f"AsyncAssets(registry={registry!r}, identity={self.identity!r})"

    async def registry(self) -> AsyncAssetRegistry:
        """The registry: the one given, else troika's recorded one on the chain,
        deployed (by ``minter``) on first use if there is none."""
        if self._registry is None:
            async with self._registry_lock:  # one deployment, however many callers
                if self._registry is None:
                    self._registry = await AsyncAssetRegistry.at_or_deploy(
                        self.chain, sender=self.minter
                    )
        return self._registry

    # -- parties --------------------------------------------------------------------

    async def sender_address(self) -> str:
        """The address that signs this object's transactions."""
        return _address_of(
            self.sender if self.sender is not None else await self.chain.default_sender()
        )

    async def _did_of(self, party: Party) -> DID:
        return _did_of(party, await self.chain.chain_id())

    def account_of(self, party: Party) -> str:
        """The account address of an identity, a did:ethr or did:pkh, or an address.

        Not a coroutine: it asks nothing of the chain (as :meth:`Assets.account_of`).

        Raises:
            InvalidAssetArgument: a DID of a method without accounts, or not an address.
        """
        return _account_of(party)

    async def key_of(self, party: Party) -> tuple[str, bytes]:
        """The key id and X25519 public key to encrypt to: an unlocked identity's
        own, else the one published on the party's DID document.

        Raises:
            NoKeyAgreementKey: the DID document publishes no X25519 key.
            DIDResolutionError: the DID does not resolve.
        """
        if isinstance(party, Identity):
            return _identity_key(party)
        document = await self.resolver.resolve_document(await self._did_of(party))
        return key_agreement_key(document)

    # -- minting --------------------------------------------------------------------

    async def mint_dataset(
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

        As :meth:`Assets.mint_dataset`; ``progress`` is called on the event
        loop's thread.

        Raises:
            InvalidMetadata: the metadata fails validation (every problem listed).
            PathNotFound, InvalidAssetArgument: no such file, or a folder.
            ContentChanged: the file changed while it was pinned; nothing is minted.
            NoKeyAgreementKey: an owner or reader publishes no key to encrypt to.
            AssetPermissionDenied: the sender may not mint or cannot pay.
        """
        request = MintRequest(path, metadata, to, encrypt, royalty_bps, (), tuple(readers))
        (minted,) = await self._mint([request], AssetKind.DATASET, DEFAULT_BATCH_SIZE, progress)
        return minted

    async def mint_model(
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
        """Pin a model file (weights; a model is data, never code) and mint it
        (see :meth:`Assets.mint_model`)."""
        request = MintRequest(
            path, metadata, to, encrypt, royalty_bps, tuple(parents), tuple(readers)
        )
        (minted,) = await self._mint([request], AssetKind.MODEL, DEFAULT_BATCH_SIZE, progress)
        return minted

    async def mint_batch(
        self,
        requests: Iterable[MintRequest],
        *,
        kind: AssetKind = AssetKind.DATASET,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Callable[[MintProgress], None] | None = None,
    ) -> list[MintedAsset]:
        """Pin many assets, then mint them in as few transactions as possible
        (see :meth:`Assets.mint_batch`); in the order of ``requests``."""
        if not 1 <= batch_size <= MAX_BATCH:
            raise InvalidAssetArgument("batch_size", batch_size, f"1 to {MAX_BATCH} tokens")
        return await self._mint(list(requests), kind, batch_size, progress)

    async def _mint(
        self,
        requests: list[MintRequest],
        kind: AssetKind,
        batch_size: int,
        progress: Callable[[MintProgress], None] | None,
    ) -> list[MintedAsset]:
        if not requests:
            return []
        owner = self.identity if self.identity is not None else await self.sender_address()
        plan = _MintPlan(requests, kind, owner)  # everything checked before anything is pinned
        for index, (request, metadata, to, party) in enumerate(plan.checked):
            plan.prepared.append(
                await self._prepare(
                    request, metadata, to, party, kind, index, len(requests), progress
                )
            )
        _check_pins(plan.prepared, await self.store.pins())
        registry = await self.registry()
        await registry.wait_settled(
            _address_of(self.minter) if self.minter is not None else await self.sender_address()
        )
        batches = plan.batches(batch_size)
        for number, ((to, royalty, parents), items) in enumerate(batches):
            todo = plan.todo(to, items, await registry.minted_commitments(to))
            if todo:
                # On TransactionTimeout the transaction may still be mined: a
                # retry looks on chain first.
                batch = await registry.mint_batch(
                    to, kind, todo, royalty_bps=royalty, parents=parents, sender=self.minter
                )
                plan.record(to, todo, batch)
            if progress is not None:
                progress(MintProgress("mint", number, len(batches)))
        return plan.results()

    async def _holds_all(self, pins: Iterable[str]) -> bool:
        for cid in pins:
            if not await self.store.has(CID.parse(cid)):
                return False
        return True

    async def _prepare(
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
            chain_id=await self.chain.chain_id(),
            registry=(await self.registry()).address,
            readers=[await self._did_of(reader) for reader in request.readers],
            profile=self.profile,
        )
        earlier = self._journal.get(intent)
        if earlier is not None and await self._holds_all(earlier["pins"]):
            return _from_journal(request, to, kind, earlier)

        before = _file_identity(path)
        loop = asyncio.get_running_loop()

        def report(done: int, total: int | None) -> None:
            # The store reports from worker threads; the caller hears on its loop.
            if progress is not None:
                event = MintProgress("pin", index, count, done, before[0], str(path))
                loop.call_soon_threadsafe(progress, event)

        recipients = (
            [await self.key_of(party) for party in (owner, *request.readers)]
            if request.encrypt
            else []
        )
        envelope: CID | None = None
        with path.open("rb") as file:
            reading = _ContentPass(file, request.encrypt)
            content = await aadd(
                reading.reader, store=self.store, profile=self.profile, progress=report
            )
            if request.encrypt:
                sealed = reading.seal(recipients)
                envelope = await aadd(sealed, store=self.store, profile=self.profile)
        facts = reading.facts()
        if _changed(path, before, facts[0]):
            for cid in (content, envelope):
                if cid is not None:
                    await self.store.unpin(cid)
            raise ContentChanged(path)

        prepared = _completed(request, to, kind, metadata, content, facts, envelope)
        await self.store.put(prepared.pins[-1], prepared.document)
        await self.store.pin(prepared.pins[-1])
        await asyncio.to_thread(self._journal.put, intent, _journal_entry(prepared))
        return prepared

    # -- reading ----------------------------------------------------------------------

    async def asset(self, token_id: int) -> Asset:
        """The token, with its metadata fetched from the store and checked
        against the commitment on chain.

        Raises:
            AssetNotFound: no such token.
            MetadataMismatch: the metadata does not hash to the commitment, or
                is not valid asset metadata.
            BlockNotFound: the store lacks the metadata block.
        """
        registry = await self.registry()
        commitment = await registry.commitment_of(token_id)
        cid = commitment_cid(commitment)
        metadata = _checked_metadata(token_id, commitment, cid, await self.store.get(cid))
        kind, owner, parents, (receiver, amount) = await asyncio.gather(
            registry.kind_of(token_id),
            registry.owner_of(token_id),
            registry.parents_of(token_id),
            registry.royalty_info(token_id, 10_000),
        )
        return Asset(
            token_id=token_id,
            kind=kind,
            owner=owner,
            metadata=metadata,
            metadata_cid=cid,
            parents=parents,
            royalty_receiver=receiver,
            royalty_bps=amount,
        )

    async def assets_of(self, owner: Party) -> list[int]:
        """The tokens ``owner`` holds, from the registry's Transfer events (read in pages)."""
        return await (await self.registry()).tokens_of(self.account_of(owner))

    async def has_access(self, token_id: int, party: Party) -> bool:
        """True if ``party`` owns the token or holds an unexpired licence."""
        return await (await self.registry()).has_access(token_id, self.account_of(party))

    async def royalty_info(self, token_id: int, sale_price: int) -> tuple[str, int]:
        """ERC-2981: the receiver and amount of the royalty on a sale at ``sale_price``."""
        return await (await self.registry()).royalty_info(token_id, sale_price)

    async def transfer(self, token_id: int, to: Party) -> str:
        """Give the token to ``to`` (sent by its owner); returns the transaction hash.

        Licences stay with the token; the new owner may revoke them.
        """
        address = _nonzero(self.account_of(to))
        registry = await self.registry()
        return (await registry.transfer(token_id, address, sender=self.sender)).tx_hash

    async def _content_key(self, token_id: int, asset: Asset, identity: Identity) -> bytes:
        encryption = asset.metadata.properties.encryption
        assert encryption is not None
        key = _opened(await self.read_bytes(CID.parse(encryption.envelope)), identity)
        if key is not None:
            return key
        registry = await self.registry()
        for digest in reversed(await registry.key_grants(token_id, identity.address)):
            key = _opened(await self.store.get(commitment_cid(digest)), identity)
            if key is not None:
                return key
        raise NotEntitled(token_id, identity.did)

    async def pin_block(self, document: bytes) -> CID:
        """Put ``document`` in the store as one raw block and pin it (see
        :meth:`Assets.pin_block`): its CID is :func:`commitment_cid` of its digest."""
        cid = CID.of(document)
        await self.store.put(cid, document)
        await self.store.pin(cid)
        return cid

    async def pin_bytes(self, data: bytes) -> CID:
        """Add ``data`` to the store as a UnixFS file (as ``ipfs add`` would) and pin it."""
        return await aadd(data, store=self.store, profile=self.profile)

    async def read_bytes(self, cid: CID | str) -> bytes:
        """The UnixFS file ``cid`` from the store, every block verified."""
        return await aget(cid, source=self.store)

    async def fetch(
        self,
        token_id: int,
        out: str | os.PathLike[str],
        *,
        identity: Identity | None = None,
    ) -> Path:
        """Write the token's content to ``out``: every block verified, decrypted
        when it is private (see :meth:`Assets.fetch`).

        Blocks stream from the store one at a time; writing, decrypting and
        checking run in a worker thread. Nothing is left at ``out`` if
        anything fails.

        Raises:
            AssetPermissionDenied: private content, and the identity neither
                owns the token nor holds an unexpired licence.
            NotEntitled: no content key is wrapped for the identity.
            DecryptionError: the content or an envelope was tampered with.
            VerificationError: the store sent a block that is not its CID's.
        """
        asset = await self.asset(token_id)
        content = CID.parse(asset.metadata.properties.content or "")
        if not asset.encrypted:
            checksum = asset.metadata.properties.checksum

            def write(blocks: _LoopBlocks) -> Path:
                target = get_to(content, out, source=blocks)
                return _check_checksum(token_id, content, target, checksum)

            return await _with_blocks(self.store, write)
        reader = identity or self.identity
        if reader is None:
            raise NotEntitled(token_id, "(no identity given)")
        if not await (await self.registry()).has_access(token_id, reader.address):
            raise AssetPermissionDenied(
                token_id, reader.address, "neither owns the token nor holds an unexpired licence"
            )
        key = await self._content_key(token_id, asset, reader)
        return await _with_blocks(
            self.store, lambda blocks: decrypt_to(export_file(blocks, content), key, out)
        )

    # -- licences -----------------------------------------------------------------------

    async def grant_license(
        self,
        token_id: int,
        licensee: Party,
        until: int | dt.datetime | dt.date,
    ) -> str:
        """Let ``licensee`` use the token until ``until`` (sent by the owner); for
        private content, wrap the content key to the licensee's DID key first
        (see :meth:`Assets.grant_license`). Returns the transaction hash.

        Raises:
            NoKeyAgreementKey: private content, and the licensee's DID
                publishes no key to encrypt to (nothing is granted).
            InvalidAssetArgument: an expiry in the past, a zero address.
            AssetPermissionDenied: the sender does not own the token.
        """
        expiry = _expiry(until)
        account = self.account_of(licensee)
        asset = await self.asset(token_id)
        key_grant: bytes | None = None
        if asset.encrypted:
            recipient = await self.key_of(licensee)
            if self.identity is None:
                raise NotEntitled(token_id, "(no identity given)")
            key = await self._content_key(token_id, asset, self.identity)
            cid, document, key_grant = _key_grant(key, recipient)
            await self.store.put(cid, document)
            await self.store.pin(cid)
        receipt = await (await self.registry()).grant_license(
            token_id, account, expiry, key_grant=key_grant, sender=self.sender
        )
        return receipt.tx_hash

    async def revoke_license(self, token_id: int, licensee: Party) -> str:
        """End ``licensee``'s licence now (sent by the owner; see :meth:`Assets.revoke_license`)."""
        registry = await self.registry()
        receipt = await registry.revoke_license(
            token_id, self.account_of(licensee), sender=self.sender
        )
        return receipt.tx_hash

    async def license_expiry(self, token_id: int, licensee: Party) -> int:
        """When ``licensee``'s licence ends (unix time; 0 if none)."""
        return await (await self.registry()).license_expiry(token_id, self.account_of(licensee))
