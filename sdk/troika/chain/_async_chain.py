"""The asyncio twin of :class:`~troika.chain.Chain`: same methods, awaited."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import aiohttp
from eth_account import Account
from eth_tester import EthereumTester
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import BlockNotFound, TimeExhausted, TransactionNotFound
from web3.providers.eth_tester import AsyncEthereumTesterProvider

from troika._closing import AsyncClosing
from troika._config import Settings, load_settings
from troika._errors import (
    ChainError,
    ChainIdMismatch,
    ContractReverted,
    DeploymentNotFound,
    RPCError,
    RPCUnavailable,
    TransactionRejected,
    TransactionTimeout,
)
from troika.chain._artifacts import Artifact, ArtifactStore
from troika.chain._core import (
    DEFAULT_PRIORITY_FEE,
    DEFAULT_RETRIES,
    EMBEDDED_URL,
    ChainCore,
    ContractCore,
    Sender,
    checked_address,
    read_retries,
    tx_params,
)
from troika.chain._deployments import Deployment, Deployments
from troika.chain._embedded import embedded_tester
from troika.chain._keystore import Signer
from troika.chain._nonce import AsyncNonceManager
from troika.chain._translate import revert_from_data, translate_errors
from troika.chain._types import BlockHeader, Event, Log, Receipt, eip1559_fees, gas_with_margin

_log = logging.getLogger("troika.chain")

__all__ = ["AsyncChain", "AsyncContract"]


class _SerialAsyncProvider(AsyncEthereumTesterProvider):
    """The in-process EVM behind AsyncWeb3; py-evm is not thread-safe, so
    event loops in several threads take turns."""

    def __init__(self, tester: EthereumTester) -> None:
        super().__init__()
        self.ethereum_tester = tester
        self._serial = threading.RLock()

    async def make_request(self, method: Any, params: Any) -> Any:
        with self._serial:
            return await super().make_request(method, params)


class AsyncChain(ChainCore, AsyncClosing):
    """:class:`~troika.chain.Chain` for asyncio, over web3's ``AsyncWeb3``.

    The same constructors and methods, awaited; properties that ask the node
    (``chain_id``, ``block_number``, ``accounts``) are coroutine methods here.

    Example:
        >>> import asyncio
        >>> async def main() -> int:
        ...     async with AsyncChain.embedded() as chain:
        ...         return await chain.block_number()
        >>> asyncio.run(main())
        0
    """

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        *,
        url: str,
        dev_signers: Sequence[Signer] = (),
        artifacts: ArtifactStore | None = None,
        home: Path | None = None,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.05,
    ) -> None:
        super().__init__(
            url=url,
            dev_signers=dev_signers,
            artifacts=artifacts,
            home=home,
            receipt_timeout=receipt_timeout,
            poll_interval=poll_interval,
        )
        self.w3 = w3
        self.nonces = AsyncNonceManager(self._pending_count)

    # -- construction ----------------------------------------------------------

    @classmethod
    def embedded(cls, *, accounts: int = 10, artifacts: ArtifactStore | None = None) -> AsyncChain:
        """A fresh in-process EVM with funded dev accounts (see ``Chain.embedded``)."""
        if accounts < 1:
            raise ChainError(f"accounts={accounts!r}: the embedded EVM needs at least one")
        tester, keys = embedded_tester(accounts)
        w3 = AsyncWeb3(_SerialAsyncProvider(tester))
        signers = [Signer(Account.from_key(key)) for key in keys]
        return cls(w3, url=EMBEDDED_URL, dev_signers=signers, artifacts=artifacts)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        chain_id: int | None = None,
        timeout: float = 10.0,
        retries: int = DEFAULT_RETRIES,
        receipt_timeout: float = 120.0,
        home: Path | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> AsyncChain:
        """Connect to a JSON-RPC node and check that it answers (see ``Chain.connect``).

        Raises:
            RPCUnavailable: nothing answers JSON-RPC at ``url``.
            ChainIdMismatch: the node serves another chain than ``chain_id``.
        """
        provider = AsyncHTTPProvider(
            url,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
            exception_retry_configuration=read_retries(
                retries, (aiohttp.ClientConnectionError, asyncio.TimeoutError)
            ),
            cache_allowed_requests=True,
            cacheable_requests={"eth_chainId"},
        )
        chain = cls(
            AsyncWeb3(provider),
            url=url,
            artifacts=artifacts,
            home=home if home is not None else load_settings().home,
            receipt_timeout=receipt_timeout,
        )
        try:
            actual = await chain.chain_id()
            if chain_id is not None and actual != chain_id:
                raise ChainIdMismatch(url, chain_id, actual)
        except BaseException:
            await chain.close()
            raise
        return chain

    @classmethod
    async def from_settings(cls, settings: Settings | None = None) -> AsyncChain:
        """The chain the settings name: ``rpc_url`` if set, else the embedded EVM."""
        settings = settings or load_settings()
        if settings.rpc_url is None:
            return cls.embedded()
        return await cls.connect(
            settings.rpc_url,
            chain_id=settings.chain_id,
            timeout=settings.rpc_timeout,
            receipt_timeout=settings.receipt_timeout,
            home=settings.home,
        )

    async def close(self) -> None:
        """Close the HTTP session to the node (nothing to do for the embedded EVM)."""
        if isinstance(self.w3.provider, AsyncHTTPProvider):
            await self.w3.provider.disconnect()

    # -- reading ---------------------------------------------------------------

    async def chain_id(self) -> int:
        """The chain id (asked once, then cached)."""
        if self._chain_id is None:
            with translate_errors(self.url, "eth_chainId"):
                self._chain_id = int(await self.w3.eth.chain_id)
        return self._chain_id

    async def block_number(self) -> int:
        """The number of the latest block."""
        with translate_errors(self.url, "eth_blockNumber"):
            return int(await self.w3.eth.block_number)

    async def block(self, number: int | Literal["latest"] = "latest") -> BlockHeader | None:
        """The block ``number`` (or the latest), or None (see ``Chain.block``)."""
        if number != "latest" and (isinstance(number, bool) or not isinstance(number, int)):
            raise ChainError(f"block {number!r} is not a block number or 'latest'")
        if isinstance(number, int) and number < 0:
            raise ChainError(f"block {number!r} is negative")
        with translate_errors(self.url, "eth_getBlockByNumber"):
            try:
                raw = await self.w3.eth.get_block(number)
            except BlockNotFound:
                return None
        return BlockHeader.from_web3(raw)

    async def accounts(self) -> list[str]:
        """The dev signers' addresses, or the accounts the node holds unlocked."""
        if self.dev_signers:
            return [signer.address for signer in self.dev_signers]
        with translate_errors(self.url, "eth_accounts"):
            return [str(a) for a in await self.w3.eth.accounts]

    async def balance(self, address: str) -> int:
        """The balance of ``address`` in wei."""
        checked = checked_address(address)
        with translate_errors(self.url, "eth_getBalance"):
            return int(await self.w3.eth.get_balance(checked))  # type: ignore[arg-type]

    async def code(self, address: str) -> bytes:
        """The runtime code at ``address``."""
        checked = checked_address(address)
        with translate_errors(self.url, "eth_getCode"):
            return bytes(await self.w3.eth.get_code(checked))  # type: ignore[arg-type]

    async def default_sender(self) -> Sender:
        """The first dev signer or node account."""
        if self.dev_signers:
            return self.dev_signers[0]
        accounts = await self.accounts()
        if not accounts:
            raise ChainError(
                f"the node at {self.url!r} holds no unlocked account: pass sender= "
                "(a Signer from Keystore.unlock)"
            )
        return accounts[0]

    # -- sending ---------------------------------------------------------------

    async def _pending_count(self, address: str) -> int:
        with translate_errors(self.url, "eth_getTransactionCount"):
            return int(await self.w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]

    async def _fees(self) -> dict[str, int]:
        with translate_errors(self.url, "eth_getBlockByNumber"):
            base_fee = (await self.w3.eth.get_block("latest")).get("baseFeePerGas")
        if base_fee is None:
            with translate_errors(self.url, "eth_gasPrice"):
                return {"gasPrice": int(await self.w3.eth.gas_price)}
        try:
            with translate_errors(self.url, "eth_maxPriorityFeePerGas"):
                priority = int(await self.w3.eth.max_priority_fee)
        except RPCError:
            priority = DEFAULT_PRIORITY_FEE
        return eip1559_fees(int(base_fee), priority)

    async def send(
        self,
        *,
        to: str | None,
        data: bytes = b"",
        value: int = 0,
        sender: Sender | None = None,
        gas: int | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        contract: str | None = None,
        timeout: float | None = None,
    ) -> Receipt:
        """Send a transaction and wait for its receipt (see ``Chain.send``)."""
        sender = sender if sender is not None else await self.default_sender()
        origin = self._origin(sender)
        known = self._known_errors(errors)
        tx = self._draft(origin, to, data, value, await self.chain_id())
        if gas is None:
            try:
                with translate_errors(self.url, "eth_estimateGas", known, contract=contract):
                    gas = gas_with_margin(int(await self.w3.eth.estimate_gas(tx_params(tx))))
            except RPCError as exc:
                raise TransactionRejected(origin, exc.message) from exc
        tx["gas"] = gas
        tx.update(await self._fees())
        tx_hash = await self._broadcast(sender, origin, tx)
        try:
            return await self.wait(tx_hash, timeout=timeout, errors=known, contract=contract)
        except (TransactionTimeout, RPCUnavailable):
            # The node may have lost it (a restart, an eviction): counting on
            # from it would leave a gap that no later transaction gets past.
            # The node's own count includes it if it still holds it.
            self.nonces.forget(origin)
            raise

    async def prepare(
        self,
        *,
        to: str | None,
        sender: str,
        data: bytes = b"",
        value: int = 0,
        gas: int | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        contract: str | None = None,
    ) -> dict[str, Any]:
        """An unsigned EIP-1559 transaction for a wallet that only signs: gas
        (estimated, so a revert shows here), fees, chain id and ``sender``'s
        next nonce filled in. Nothing is sent; submit the signed bytes with
        :meth:`send_raw`.

        Raises:
            ContractReverted: it would revert.
            TransactionRejected: the node refuses it (funds, ...).
        """
        origin = checked_address(sender, "sender")
        known = self._known_errors(errors)
        tx = self._draft(origin, to, data, value, await self.chain_id())
        if gas is None:
            try:
                with translate_errors(self.url, "eth_estimateGas", known, contract=contract):
                    gas = gas_with_margin(int(await self.w3.eth.estimate_gas(tx_params(tx))))
            except RPCError as exc:
                raise TransactionRejected(origin, exc.message) from exc
        tx["gas"] = gas
        tx.update(await self._fees())
        tx["nonce"] = await self._pending_count(origin)
        tx["type"] = 2 if "maxFeePerGas" in tx else 0
        return self._unsigned(tx)

    async def send_raw(self, raw: bytes, *, timeout: float | None = None) -> Receipt:
        """Broadcast a transaction a wallet signed, and wait for its receipt."""
        with translate_errors(self.url, "eth_sendRawTransaction"):
            sent = await self.w3.eth.send_raw_transaction(raw)
        return await self.wait(
            "0x" + bytes(sent).hex(), timeout=timeout, errors=self._known_errors(())
        )

    async def _broadcast(self, sender: Sender, origin: str, tx: dict[str, Any]) -> str:
        for attempt in range(2):
            try:
                async with self.nonces.reserve(origin) as nonce:
                    tx["nonce"] = nonce
                    with translate_errors(self.url, "eth_sendTransaction"):
                        if isinstance(sender, Signer):
                            raw = sender.sign_transaction(self._unsigned(tx))
                            sent = await self.w3.eth.send_raw_transaction(raw)
                        else:
                            sent = await self.w3.eth.send_transaction(tx_params(tx))
                    tx_hash = "0x" + bytes(sent).hex()
                    # Hashes, addresses and numbers only: never keys or calldata.
                    _log.debug(
                        "sent %s from %s nonce %d gas %d to %s",
                        tx_hash,
                        origin,
                        nonce,
                        tx["gas"],
                        tx.get("to", "(deploy)"),
                    )
                    return tx_hash
            except RPCError as exc:
                if attempt == 0 and "nonce" in exc.message.lower():
                    continue
                raise TransactionRejected(origin, exc.message) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def wait(
        self,
        tx_hash: str,
        *,
        timeout: float | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        contract: str | None = None,
    ) -> Receipt:
        """Wait for a transaction's receipt (see ``Chain.wait``)."""
        limit = self.receipt_timeout if timeout is None else timeout
        try:
            with translate_errors(self.url, "eth_getTransactionReceipt"):
                raw = await self.w3.eth.wait_for_transaction_receipt(
                    tx_hash,  # type: ignore[arg-type]
                    timeout=limit,
                    poll_latency=self.poll_interval,
                )
        except (TimeoutError, TimeExhausted) as exc:
            raise TransactionTimeout(tx_hash, limit) from exc
        receipt = Receipt.from_web3(raw)
        _log.debug(
            "mined %s in block %d, gas used %d, status %d",
            tx_hash,
            receipt.block_number,
            receipt.gas_used,
            receipt.status,
        )
        if not receipt.status:
            raise await self._explain_failure(receipt, errors, contract)
        return receipt

    async def _explain_failure(
        self, receipt: Receipt, errors: Sequence[Mapping[str, Any]], contract: str | None
    ) -> ContractReverted:
        traced = await self._traced_revert(receipt)
        if traced is not None:
            return revert_from_data(traced, errors, contract=contract, tx_hash=receipt.tx_hash)
        try:
            with translate_errors(self.url, "eth_getTransactionByHash"):
                tx = await self.w3.eth.get_transaction(receipt.tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return self._unexplained(receipt, contract)
        for block in self._replay_blocks(receipt):
            try:
                with translate_errors(self.url, "eth_call", errors, contract=contract):
                    await self.w3.eth.call(tx_params(self._replay(tx)), block)
            except ContractReverted as reverted:
                return revert_from_data(
                    reverted.data, errors, contract=contract, tx_hash=receipt.tx_hash
                )
        return self._unexplained(receipt, contract)

    async def _traced_revert(self, receipt: Receipt) -> bytes | None:
        if self.is_embedded:
            return None
        try:
            with translate_errors(self.url, "debug_traceTransaction"):
                answer = await self.w3.provider.make_request(
                    "debug_traceTransaction",
                    [receipt.tx_hash, {"tracer": "callTracer"}],
                )
        except ChainError:
            return None
        return self._trace_output(answer.get("result") if isinstance(answer, Mapping) else None)

    async def transfer(self, to: str, value: int, *, sender: Sender | None = None) -> Receipt:
        """Send ``value`` wei to ``to``."""
        return await self.send(to=to, value=value, sender=sender)

    # -- contracts -------------------------------------------------------------

    async def deploy(
        self,
        contract: str | Artifact,
        *args: Any,
        sender: Sender | None = None,
        value: int = 0,
        record: bool = True,
    ) -> AsyncContract:
        """Deploy a compiled contract (see ``Chain.deploy``)."""
        artifact = self._artifact(contract)
        with translate_errors(self.url, "deploy", artifact.errors(), contract=artifact.name):
            factory = self.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
            data = bytes.fromhex(factory.constructor(*args).data_in_transaction.removeprefix("0x"))
        receipt = await self.send(
            to=None,
            data=data,
            value=value,
            sender=sender,
            errors=artifact.errors(),
            contract=artifact.name,
        )
        if receipt.contract_address is None:  # pragma: no cover - a node bug
            raise ChainError(f"deploying {artifact.name!r} gave no contract address")
        if record:
            (await self.deployments()).record(
                Deployment(
                    artifact.name, receipt.contract_address, receipt.tx_hash, receipt.block_number
                )
            )
        return self.contract(artifact, receipt.contract_address)

    def contract(self, contract: str | Artifact, address: str) -> AsyncContract:
        """A handle on a deployed contract of a known artifact."""
        return AsyncContract(self, self._artifact(contract), checked_address(address))

    async def deployments(self) -> Deployments:
        """This chain's deployments record (in memory for the embedded EVM)."""
        return self._deployments_of(await self.chain_id())

    async def deployment(self, name: str) -> AsyncContract:
        """The recorded deployment of ``name`` (see ``Chain.deployment``)."""
        entry = (await self.deployments()).get(name)
        if entry is None or not await self.code(entry.address):
            raise DeploymentNotFound(name, await self.chain_id())
        return self.contract(name, entry.address)


class AsyncContract(ContractCore):
    """:class:`~troika.chain.Contract` for asyncio."""

    def __init__(self, chain: AsyncChain, artifact: Artifact, address: str) -> None:
        web3_contract = chain.w3.eth.contract(address=address, abi=list(artifact.abi))  # type: ignore[call-overload]
        super().__init__(artifact, address, web3_contract, chain)
        self.chain = chain

    async def call(self, function: str, *args: Any, sender: str | None = None) -> Any:
        """Call a view (or simulate any function) and return its decoded result."""
        options: dict[str, Any] = {}
        if sender is not None:
            options["from"] = checked_address(sender, "sender")
        where = f"{self.name}.{function}"
        with translate_errors(self.chain.url, where, self._errors(), contract=self.name):
            return await self._web3.functions[function](*args).call(options)

    async def prepare(
        self, function: str, *args: Any, sender: str, value: int = 0, gas: int | None = None
    ) -> dict[str, Any]:
        """An unsigned transaction calling ``function``, for a wallet that only signs."""
        with translate_errors(self.chain.url, f"{self.name}.{function}", contract=self.name):
            data = self._encode(function, args)
        return await self.chain.prepare(
            to=self.address,
            sender=sender,
            data=data,
            value=value,
            gas=gas,
            errors=self._errors(),
            contract=self.name,
        )

    async def transact(
        self,
        function: str,
        *args: Any,
        sender: Sender | None = None,
        value: int = 0,
        gas: int | None = None,
        timeout: float | None = None,
    ) -> Receipt:
        """Send a transaction to ``function`` and wait for its receipt."""
        with translate_errors(self.chain.url, f"{self.name}.{function}", contract=self.name):
            data = self._encode(function, args)
        return await self.chain.send(
            to=self.address,
            data=data,
            value=value,
            sender=sender,
            gas=gas,
            errors=self._errors(),
            contract=self.name,
            timeout=timeout,
        )

    async def logs(
        self,
        name: str | None = None,
        *,
        from_block: int = 0,
        to_block: int | str = "latest",
        **indexed: Any,
    ) -> list[Event]:
        """Events ``name`` (or all events) of this contract in a block range,
        filtered by indexed arguments.

        Example: ``registry.logs("DIDOwnerChanged", from_block=n, to_block=n, identity=addr)``.

        Raises:
            InvalidContractCall: no such event, or no indexed argument of that name.
        """
        query = self._log_filter(name, from_block, to_block, indexed)
        with translate_errors(self.chain.url, "eth_getLogs"):
            raw = await self.chain.w3.eth.get_logs(tx_params(query))  # type: ignore[arg-type]
        return self.decode_logs([Log.from_web3(entry) for entry in raw], name)
