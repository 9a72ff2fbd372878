"""``Troika``: one entry point that wires the layers from configuration.

Nothing configured means the embedded defaults: an in-process EVM on which
troika's contracts are deployed on first use, and a :class:`~troika.ipfs.LocalStore`
under the troika home. ``rpc_url`` and ``ipfs_api`` (arguments, ``TROIKA_*``
variables or ``troika.toml``; see :mod:`troika._config`) switch to a node and Kubo.

Making a ``Troika`` does no I/O: the chain is reached, the store opened and
each contract found (or deployed) the first time it is used. Every part can
be injected instead (``chain=``, ``store=``, ``keystore=``), as httpx takes a
transport; what ``Troika`` made itself, ``close`` closes.

:class:`AsyncTroika` is the asyncio twin, with the same names (the parts
that reach the chain are coroutines: ``await t.identities()``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from troika._closing import AsyncClosing, Closing
from troika._config import Settings, load_settings

if TYPE_CHECKING:
    from troika.assets import AssetRegistry, Assets, AsyncAssetRegistry, AsyncAssets
    from troika.chain import AsyncChain, Chain, Keystore, Receipt, Sender
    from troika.compute import (
        AsyncCompute,
        AsyncComputeJobs,
        Compute,
        ComputeJobs,
        Coordinator,
        DatasetPolicy,
        FlowerDeployment,
        FlowerSettings,
        Node,
    )
    from troika.did import (
        AsyncEthrRegistry,
        AsyncIdentities,
        AsyncResolver,
        DIDDocument,
        DIDURLLike,
        EthrRegistry,
        Identities,
        Identity,
        ResolutionResult,
        Resolver,
        WebResolver,
    )
    from troika.ipfs import (
        CID,
        AsyncKuboStore,
        AsyncLocalStore,
        CIDLike,
        ImportSource,
        PinningStore,
    )

__all__ = ["AsyncTroika", "Troika"]


def _embedded_settings(home: str | os.PathLike[str]) -> Settings:
    # Explicit Nones win over TROIKA_* and troika.toml: embedded means embedded.
    values: dict[str, Any] = {"home": Path(home), "rpc_url": None, "chain_id": None}
    return Settings(**values, ipfs_api=None)


def _keystore(settings: Settings, scrypt_n: int | None = None) -> Keystore:
    """The keystore under the settings' home (no I/O); geth's scrypt cost by default."""
    from troika.chain import Keystore

    if scrypt_n is None:
        return Keystore(settings.home)
    return Keystore(settings.home, scrypt_n=scrypt_n)


def _describe(client: object, settings: Settings) -> str:
    """``Troika(chain=..., ipfs=...)``: where a client's chain and store are."""
    where = settings.rpc_url or "embedded"
    ipfs = settings.ipfs_api or str(settings.home / "ipfs")
    return f"{type(client).__name__}(chain={where!r}, ipfs={ipfs!r})"


class DIDs:
    """``troika.did`` bound to one client's resolver: did:key, did:pkh, did:web,
    and did:ethr on the client's chain."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def resolve(self, did_url: DIDURLLike, **options: Any) -> ResolutionResult:
        """Resolve a DID to a result; never raises for bad input (see
        :meth:`troika.did.Resolver.resolve`)."""
        return self.resolver.resolve(did_url, **options)

    def resolve_document(self, did_url: DIDURLLike, **options: Any) -> DIDDocument:
        """Resolve a DID to its document, or raise a typed :class:`~troika.DIDError`."""
        return self.resolver.resolve_document(did_url, **options)


class IPFS:
    """``troika.ipfs.add`` and ``get`` bound to one client's store."""

    def __init__(self, store: PinningStore) -> None:
        self.store = store

    def add(self, source: ImportSource, **options: Any) -> CID:
        """Add and pin ``source`` (bytes, a path or a binary stream); its root CID.

        ``options`` are those of :func:`troika.ipfs.add` (``profile``,
        ``cid_version``, ``progress``...).
        """
        from troika.ipfs import add

        return add(source, store=self.store, **options)

    def get(self, cid: CIDLike) -> bytes:
        """The content of the file ``cid``, every block verified against its CID."""
        from troika.ipfs import get

        return get(cid, source=self.store)

    def get_to(self, cid: CIDLike, path: str | os.PathLike[str]) -> Path:
        """Write the file, symlink or folder ``cid`` to ``path``, every block verified."""
        from troika.ipfs import get_to

        return get_to(cid, path, source=self.store)


class Troika(Closing):
    """The chain, IPFS store, keystore and resolver of one configuration, wired together.

    Args:
        settings: What to connect to; :func:`troika.load_settings` (arguments,
            ``TROIKA_*``, ``troika.toml``) if None. No ``rpc_url`` means the
            embedded EVM; no ``ipfs_api`` means a ``LocalStore`` under the home.
        chain: A chain to use instead of the one the settings name (not closed
            by :meth:`close`).
        store: A store to use instead (not closed by :meth:`close`).
        keystore: A keystore to use instead of ``<home>/keys``.

    Example:
        >>> with Troika.embedded(tmp_path, scrypt_n=2**10) as t:
        ...     alice = t.identities.create("alice", "pw", kind="person")
        ...     t.did.resolve(alice.did).did_document.id == str(alice.did)
        True
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        chain: Chain | None = None,
        store: PinningStore | None = None,
        keystore: Keystore | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._chain = chain
        self._owns_chain = chain is None
        self._store = store
        self._owns_store = store is None
        self._keystore = keystore
        self._did_registry: EthrRegistry | None = None
        self._registry: AssetRegistry | None = None
        self._jobs: ComputeJobs | None = None
        self._resolver: Resolver | None = None
        self._web: WebResolver | None = None
        self._minter: tuple[Sender | None] | None = None
        self._closers: list[Any] = []

    @classmethod
    def embedded(cls, home: str | os.PathLike[str], *, scrypt_n: int | None = None) -> Troika:
        """The embedded defaults under ``home``, whatever the environment says:
        a fresh in-process EVM and a ``LocalStore`` at ``<home>/ipfs``.

        Args:
            home: The troika home for keys and blocks.
            scrypt_n: The scrypt cost of new keys; geth's standard by default.
                Lower it only for throwaway keys (tests, the demo).
        """
        settings = _embedded_settings(home)
        return cls(settings, keystore=_keystore(settings, scrypt_n))

    def __repr__(self) -> str:
        return _describe(self, self.settings)

    def close(self) -> None:
        """Close what this client opened: the node and Kubo connections, the
        resolvers' clients (never a chain or store that was passed in)."""
        for closer in reversed(self._closers):
            closer.close()
        self._closers.clear()
        if self._owns_store and self._store is not None and isinstance(self._store, Closing):
            self._store.close()
        if self._owns_chain and self._chain is not None:
            self._chain.close()

    # -- the parts ----------------------------------------------------------------

    @property
    def chain(self) -> Chain:
        """The chain: the node at ``rpc_url``, else a fresh embedded EVM (made on first use)."""
        if self._chain is None:
            from troika.chain import Chain

            self._chain = Chain.from_settings(self.settings)
        return self._chain

    @property
    def is_embedded(self) -> bool:
        """True when the chain is the in-process EVM."""
        return self.chain.is_embedded

    @property
    def store(self) -> PinningStore:
        """The IPFS store: Kubo at ``ipfs_api``, else the ``LocalStore`` at ``<home>/ipfs``."""
        if self._store is None:
            if self.settings.ipfs_api is not None:
                from troika.ipfs import KuboStore

                self._store = KuboStore(self.settings.ipfs_api)
            else:
                from troika.ipfs import LocalStore

                self._store = LocalStore(self.settings.home / "ipfs")
        return self._store

    @property
    def keystore(self) -> Keystore:
        """The encrypted keys under ``<home>/keys``."""
        if self._keystore is None:
            self._keystore = _keystore(self.settings)
        return self._keystore

    @property
    def did_registry(self) -> EthrRegistry:
        """The ERC-1056 registry of did:ethr: troika's recorded one (or the
        canonical one of the chain id); deployed on first use where there is none."""
        if self._did_registry is None:
            from troika._errors import DeploymentNotFound
            from troika.did import EthrRegistry

            try:
                self._did_registry = EthrRegistry.at(self.chain)
            except DeploymentNotFound:
                # A fresh chain (the embedded EVM, a dev node): troika brings its own.
                self._did_registry = EthrRegistry.deploy(self.chain)
        return self._did_registry

    @property
    def identities(self) -> Identities:
        """People, devices and AI agents: keys in :attr:`keystore`, DIDs on
        :attr:`did_registry`; the chain's default sender relays their changes."""
        from troika.did import Identities

        return Identities(self.chain, self.keystore, self.did_registry)

    @property
    def registry(self) -> AssetRegistry:
        """troika's ``AssetRegistry`` on the chain, deployed on first use (the
        chain's default sender becomes its admin and first minter)."""
        if self._registry is None:
            from troika.assets import AssetRegistry

            self._registry = AssetRegistry.at_or_deploy(self.chain)
        return self._registry

    @property
    def jobs(self) -> ComputeJobs:
        """troika's ``ComputeJobs`` market on :attr:`registry`, deployed on first use."""
        if self._jobs is None:
            from troika.compute import ComputeJobs

            self._jobs = ComputeJobs.at_or_deploy(self.chain, self.registry.address)
        return self._jobs

    @property
    def resolver(self) -> Resolver:
        """A resolver of did:key and did:pkh (no I/O), did:web (HTTPS, client
        made on first use) and did:ethr on this chain's :attr:`did_registry`."""
        if self._resolver is None:
            from troika.did import EthrNetwork, EthrResolver, Resolver

            chain = self.chain
            registry = self.did_registry
            ethr = EthrResolver(
                [EthrNetwork(chain, chain_id=chain.chain_id, registry=registry.address)],
                rpc_timeout=self.settings.rpc_timeout,
                home=self.settings.home,
            )
            self._closers.append(ethr)
            resolver = Resolver()
            resolver.register("ethr", ethr)
            resolver.register("web", self._web_resolver)
            self._resolver = resolver
        return self._resolver

    def _web_resolver(self, did: Any, options: Any) -> ResolutionResult:
        # The HTTPS client is made on the first did:web only.
        if self._web is None:
            from troika.did import WebResolver

            self._web = WebResolver()
            self._closers.append(self._web)
        return self._web(did, options)

    @property
    def did(self) -> DIDs:
        """``t.did.resolve(did)``: :attr:`resolver` with troika.did's verbs."""
        return DIDs(self.resolver)

    @property
    def ipfs(self) -> IPFS:
        """``t.ipfs.add(data)``, ``t.ipfs.get(cid)``: troika.ipfs bound to :attr:`store`."""
        return IPFS(self.store)

    # -- acting as someone ----------------------------------------------------------

    def _default_minter(self) -> Sender | None:
        if self._minter is None:  # asked once: every Assets this client makes shares it
            from troika._errors import ChainError

            try:
                sender: Sender | None = self.chain.default_sender
            except ChainError:  # a node without unlocked accounts
                sender = None
            if sender is not None:
                address = sender if isinstance(sender, str) else sender.address
                sender = sender if self.registry.is_minter(address) else None
            self._minter = (sender,)
        return self._minter[0]

    def assets(self, identity: Identity, *, minter: Sender | None = None) -> Assets:
        """Mint, read, license and fetch assets as ``identity``.

        Args:
            identity: Who acts (owns what it mints, signs licences, decrypts).
            minter: Who signs and pays for ``mintBatch``; by default the
                chain's default sender (the embedded dev account, which deployed
                the registry and is its admin) when it may mint, else ``identity``.
        """
        from troika.assets import Assets

        chain = self.chain
        journal = (
            None
            if chain.is_embedded  # a fresh chain each run: a journal would only be stale
            else self.settings.home / "assets" / f"journal-{chain.chain_id}.json"
        )
        return Assets(
            chain,
            self.store,
            self.registry,
            identity=identity,
            minter=minter if minter is not None else self._default_minter(),
            resolver=self.resolver,
            journal=journal,
        )

    def compute(self, identity: Identity) -> Compute:
        """Request jobs as ``identity`` (it pays, and decrypts the results)."""
        from troika.compute import Compute

        return Compute(self.jobs, self.assets(identity))

    def node(
        self,
        identity: Identity,
        policies: Sequence[DatasetPolicy],
        *,
        state: str | os.PathLike[str] | None = None,
        flower: FlowerSettings | None = None,
    ) -> Node:
        """A compute node for ``identity``'s datasets; ``identity`` accepts and
        confirms. With ``flower``, it joins a coordinator's Flower deployment."""
        from troika.compute import Node

        return Node(
            self.jobs,
            self.assets(identity),
            policies,
            sender=identity.signer,
            state=state,
            flower=flower,
        )

    def coordinator(
        self,
        identity: Identity,
        *,
        timeout: float = 300.0,
        deployment: FlowerDeployment | None = None,
    ) -> Coordinator:
        """Runs jobs requested by ``identity`` across their nodes; on
        ``deployment``'s SuperLink (separate organisations) if given."""
        from troika.compute import Coordinator

        if deployment is not None:
            return Coordinator(
                self.jobs,
                self.assets(identity),
                runtime="deployment",
                deployment=deployment,
                timeout=timeout,
            )
        return Coordinator(self.jobs, self.assets(identity), timeout=timeout)

    def fund(self, party: Identity | str, wei: int) -> Receipt:
        """Send ``wei`` from the chain's default sender (the embedded EVM's first
        dev account, or a dev node's first unlocked account) to an identity or address.

        An identity made on a fresh chain has no coin: its DID changes are
        relayed, but it pays its own licences, jobs and withdrawals.
        """
        address = party if isinstance(party, str) else party.address
        return self.chain.transfer(address, wei)


class AsyncDIDs:
    """The asyncio twin of :class:`DIDs`."""

    def __init__(self, resolver: AsyncResolver) -> None:
        self.resolver = resolver

    async def resolve(self, did_url: DIDURLLike, **options: Any) -> ResolutionResult:
        """Resolve a DID to a result; never raises for bad input."""
        return await self.resolver.resolve(did_url, **options)

    async def resolve_document(self, did_url: DIDURLLike, **options: Any) -> DIDDocument:
        """Resolve a DID to its document, or raise a typed :class:`~troika.DIDError`."""
        return await self.resolver.resolve_document(did_url, **options)


class AsyncIPFS:
    """The asyncio twin of :class:`IPFS`."""

    def __init__(self, store: AsyncKuboStore | AsyncLocalStore) -> None:
        self.store = store

    async def add(self, source: ImportSource, **options: Any) -> CID:
        """Add and pin ``source``; its root CID (see :func:`troika.ipfs.aadd`)."""
        from troika.ipfs import aadd

        return await aadd(source, store=self.store, **options)

    async def get(self, cid: CIDLike) -> bytes:
        """The content of the file ``cid``, every block verified."""
        from troika.ipfs import aget

        return await aget(cid, source=self.store)


class AsyncTroika(AsyncClosing):
    """The asyncio twin of :class:`Troika`: the same parts and names over
    web3's and httpx's async clients. What reaches the chain to be found or
    deployed is a coroutine (``await t.identities()``, ``await t.registry()``).

    Example:
        >>> import asyncio
        >>> async def main() -> tuple[bytes, str]:
        ...     async with AsyncTroika.embedded(tmp_path, scrypt_n=2**10) as t:
        ...         alice = await (await t.identities()).create("alice", "pw", kind="person")
        ...         document = await (await t.did()).resolve_document(alice.did)
        ...         return await t.ipfs.get(await t.ipfs.add(b"hello\\n")), document.id
        >>> data, did = asyncio.run(main())
        >>> data, did.startswith("did:ethr:0x776562337079:0x")  # the embedded EVM's chain id
        (b'hello\\n', True)
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        chain: AsyncChain | None = None,
        store: AsyncKuboStore | AsyncLocalStore | None = None,
        keystore: Keystore | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._chain = chain
        self._owns_chain = chain is None
        self._store = store
        self._owns_store = store is None
        self._keystore = keystore
        self._did_registry: AsyncEthrRegistry | None = None
        self._registry: AsyncAssetRegistry | None = None
        self._jobs: AsyncComputeJobs | None = None
        self._resolver: AsyncResolver | None = None
        self._closers: list[Any] = []

    @classmethod
    def embedded(cls, home: str | os.PathLike[str], *, scrypt_n: int | None = None) -> AsyncTroika:
        """The embedded defaults under ``home``, whatever the environment says
        (``scrypt_n`` as for :meth:`Troika.embedded`)."""
        settings = _embedded_settings(home)
        return cls(settings, keystore=_keystore(settings, scrypt_n))

    def __repr__(self) -> str:
        return _describe(self, self.settings)

    async def close(self) -> None:
        """Close what this client opened (never a chain or store passed in)."""
        for closer in reversed(self._closers):
            await closer.close()
        self._closers.clear()
        if self._owns_store and self._store is not None:
            from troika.ipfs import AsyncKuboStore

            if isinstance(self._store, AsyncKuboStore):
                await self._store.close()
        if self._owns_chain and self._chain is not None:
            await self._chain.close()

    async def chain(self) -> AsyncChain:
        """The chain (connected on first use): the node at ``rpc_url``, else the embedded EVM."""
        if self._chain is None:
            from troika.chain import AsyncChain

            self._chain = await AsyncChain.from_settings(self.settings)
        return self._chain

    @property
    def store(self) -> AsyncKuboStore | AsyncLocalStore:
        """Kubo at ``ipfs_api``, else the ``LocalStore`` at ``<home>/ipfs``."""
        if self._store is None:
            if self.settings.ipfs_api is not None:
                from troika.ipfs import AsyncKuboStore

                self._store = AsyncKuboStore(self.settings.ipfs_api)
            else:
                from troika.ipfs import AsyncLocalStore

                self._store = AsyncLocalStore(self.settings.home / "ipfs")
        return self._store

    @property
    def ipfs(self) -> AsyncIPFS:
        """``await t.ipfs.add(data)``, ``await t.ipfs.get(cid)``, bound to :attr:`store`."""
        return AsyncIPFS(self.store)

    @property
    def keystore(self) -> Keystore:
        """The encrypted keys under ``<home>/keys`` (see :attr:`Troika.keystore`)."""
        if self._keystore is None:
            self._keystore = _keystore(self.settings)
        return self._keystore

    async def did_registry(self) -> AsyncEthrRegistry:
        """The ERC-1056 registry of did:ethr: troika's recorded one (or the
        canonical one of the chain id); deployed on first use where there is none."""
        if self._did_registry is None:
            from troika._errors import DeploymentNotFound
            from troika.did import AsyncEthrRegistry

            chain = await self.chain()
            try:
                self._did_registry = await AsyncEthrRegistry.at(chain)
            except DeploymentNotFound:
                self._did_registry = await AsyncEthrRegistry.deploy(chain)
        return self._did_registry

    async def identities(self) -> AsyncIdentities:
        """People, devices and AI agents (see :attr:`Troika.identities`)."""
        from troika.did import AsyncIdentities

        return AsyncIdentities(await self.chain(), self.keystore, await self.did_registry())

    async def resolver(self) -> AsyncResolver:
        """did:key, did:pkh, did:web and did:ethr on this chain's :meth:`did_registry`."""
        if self._resolver is None:
            from troika.did import AsyncEthrResolver, AsyncResolver, AsyncWebResolver, EthrNetwork

            chain = await self.chain()
            registry = await self.did_registry()
            ethr = AsyncEthrResolver(
                [EthrNetwork(chain, chain_id=await chain.chain_id(), registry=registry.address)],
                rpc_timeout=self.settings.rpc_timeout,
                home=self.settings.home,
            )
            web = AsyncWebResolver()
            self._closers += [ethr, web]
            resolver = AsyncResolver()
            resolver.register("ethr", ethr)
            resolver.register("web", web)
            self._resolver = resolver
        return self._resolver

    async def did(self) -> AsyncDIDs:
        """``(await t.did()).resolve(did)``."""
        return AsyncDIDs(await self.resolver())

    async def registry(self) -> AsyncAssetRegistry:
        """troika's ``AssetRegistry`` on the chain, deployed on first use (the
        chain's default sender becomes its admin and first minter)."""
        if self._registry is None:
            from troika.assets import AsyncAssetRegistry

            self._registry = await AsyncAssetRegistry.at_or_deploy(await self.chain())
        return self._registry

    async def assets(
        self, identity: Identity | None = None, *, minter: Sender | None = None
    ) -> AsyncAssets:
        """Mint, read, license and fetch assets as ``identity`` (the chain's
        default sender if None); the minter is chosen as :meth:`Troika.assets` does."""
        from troika._errors import ChainError
        from troika.assets import AsyncAssets

        chain = await self.chain()
        registry = await self.registry()
        if minter is None:
            try:
                default = await chain.default_sender()
            except ChainError:  # a node without unlocked accounts
                default = None
            if default is not None:
                address = default if isinstance(default, str) else default.address
                minter = default if await registry.is_minter(address) else None
        journal = (
            None
            if chain.is_embedded
            else self.settings.home / "assets" / f"journal-{await chain.chain_id()}.json"
        )
        return AsyncAssets(
            chain,
            self.store,
            registry,
            identity=identity,
            minter=minter,
            resolver=await self.resolver(),
            journal=journal,
        )

    async def jobs(self) -> AsyncComputeJobs:
        """troika's ``ComputeJobs`` market on :meth:`registry`, deployed on first use."""
        if self._jobs is None:
            from troika.compute import AsyncComputeJobs

            registry = await self.registry()
            self._jobs = await AsyncComputeJobs.at_or_deploy(await self.chain(), registry.address)
        return self._jobs

    async def compute(self, identity: Identity) -> AsyncCompute:
        """Request jobs as ``identity`` (it pays, and decrypts the results). A data
        owner's node and the coordinator are processes, sync only: see :meth:`Troika.node`."""
        from troika.compute import AsyncCompute

        return AsyncCompute(await self.jobs(), await self.assets(identity))

    async def fund(self, party: Identity | str, wei: int) -> Receipt:
        """Send ``wei`` from the chain's default sender (see :meth:`Troika.fund`)."""
        address = party if isinstance(party, str) else party.address
        return await (await self.chain()).transfer(address, wei)
