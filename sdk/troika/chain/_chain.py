"""One way to reach any EVM chain: the embedded EVM or a JSON-RPC node (sync)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import requests
from eth_account import Account
from web3 import Web3
from web3.exceptions import BlockNotFound, TimeExhausted, TransactionNotFound

from troika._closing import Closing
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
from troika.chain._embedded import embedded_web3
from troika.chain._keystore import Signer
from troika.chain._nonce import NonceManager
from troika.chain._translate import revert_from_data, translate_errors
from troika.chain._types import BlockHeader, Event, Log, Receipt, eip1559_fees, gas_with_margin

_log = logging.getLogger("troika.chain")

__all__ = ["Chain", "Contract"]


class Chain(ChainCore, Closing):
    """A connection to one EVM chain, and the way troika sends to it.

    Make one with :meth:`embedded` (in-process, funded dev accounts, no
    set-up), :meth:`connect` (any JSON-RPC node) or :meth:`from_settings`
    (whichever the configuration says). :class:`AsyncChain` is its asyncio twin.

    Example:
        >>> chain = Chain.embedded()
        >>> chain.block_number
        0
        >>> len(chain.dev_signers)
        10
    """

    def __init__(
        self,
        w3: Web3,
        *,
        url: str,
        dev_signers: Sequence[Signer] = (),
        artifacts: ArtifactStore | None = None,
        home: Path | None = None,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.05,
        session: requests.Session | None = None,
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
        self.nonces = NonceManager(self._pending_count)
        self._session = session

    # -- construction ----------------------------------------------------------

    @classmethod
    def embedded(cls, *, accounts: int = 10, artifacts: ArtifactStore | None = None) -> Chain:
        """A fresh in-process EVM (eth-tester, py-evm) with funded dev accounts.

        Each call starts a new chain at block 0; nothing is written to disk.
        """
        if accounts < 1:
            raise ChainError(f"accounts={accounts!r}: the embedded EVM needs at least one")
        w3, keys = embedded_web3(accounts)
        signers = [Signer(Account.from_key(key)) for key in keys]
        return cls(w3, url=EMBEDDED_URL, dev_signers=signers, artifacts=artifacts)

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        chain_id: int | None = None,
        timeout: float = 10.0,
        retries: int = DEFAULT_RETRIES,
        receipt_timeout: float = 120.0,
        home: Path | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> Chain:
        """Connect to a JSON-RPC node and check that it answers.

        Args:
            url: the node's HTTP JSON-RPC URL.
            chain_id: if given, the node must serve this chain.
            timeout: seconds for one request.
            retries: how many times a read (never a send) is retried after a
                connection error or a timeout, with exponential backoff from
                0.25 s; then the error is raised.
            receipt_timeout: default seconds to wait for a transaction receipt.
            home: where the deployments record lives (the settings' home).
            artifacts: where compiled contracts are found.

        Raises:
            RPCUnavailable: nothing answers JSON-RPC at ``url``.
            ChainIdMismatch: the node serves another chain than ``chain_id``.
        """
        session = requests.Session()
        provider = Web3.HTTPProvider(
            url,
            request_kwargs={"timeout": timeout},
            session=session,
            exception_retry_configuration=read_retries(
                retries, (requests.ConnectionError, requests.Timeout)
            ),
            # web3 validates every call and send against eth_chainId; a node
            # does not change chains under a connection, so ask once.
            cache_allowed_requests=True,
            cacheable_requests={"eth_chainId"},
        )
        chain = cls(
            Web3(provider),
            url=url,
            artifacts=artifacts,
            home=home if home is not None else load_settings().home,
            receipt_timeout=receipt_timeout,
            session=session,
        )
        try:
            actual = chain.chain_id
            if chain_id is not None and actual != chain_id:
                raise ChainIdMismatch(url, chain_id, actual)
        except BaseException:
            chain.close()
            raise
        return chain

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Chain:
        """The chain the settings name: ``rpc_url`` if set, else the embedded EVM."""
        settings = settings or load_settings()
        if settings.rpc_url is None:
            return cls.embedded()
        return cls.connect(
            settings.rpc_url,
            chain_id=settings.chain_id,
            timeout=settings.rpc_timeout,
            receipt_timeout=settings.receipt_timeout,
            home=settings.home,
        )

    def close(self) -> None:
        """Close the HTTP connections to the node (nothing to do for the embedded EVM)."""
        if self._session is not None:
            self._session.close()

    # -- reading ---------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        """The chain id (asked once, then cached)."""
        if self._chain_id is None:
            with translate_errors(self.url, "eth_chainId"):
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    @property
    def block_number(self) -> int:
        """The number of the latest block."""
        with translate_errors(self.url, "eth_blockNumber"):
            return int(self.w3.eth.block_number)

    def block(self, number: int | Literal["latest"] = "latest") -> BlockHeader | None:
        """The block ``number`` (or the latest): its hash and timestamp.

        None if the chain has no such block yet.

        Example:
            >>> Chain.embedded().block(0).number
            0
        """
        if number != "latest" and (isinstance(number, bool) or not isinstance(number, int)):
            raise ChainError(f"block {number!r} is not a block number or 'latest'")
        if isinstance(number, int) and number < 0:
            raise ChainError(f"block {number!r} is negative")
        with translate_errors(self.url, "eth_getBlockByNumber"):
            try:
                raw = self.w3.eth.get_block(number)
            except BlockNotFound:
                return None
        return BlockHeader.from_web3(raw)

    @property
    def accounts(self) -> list[str]:
        """Accounts that can send here without a key of yours: the dev signers
        of the embedded EVM, or the accounts the node holds unlocked."""
        if self.dev_signers:
            return [signer.address for signer in self.dev_signers]
        with translate_errors(self.url, "eth_accounts"):
            return [str(a) for a in self.w3.eth.accounts]

    def balance(self, address: str) -> int:
        """The balance of ``address`` in wei."""
        checked = checked_address(address)
        with translate_errors(self.url, "eth_getBalance"):
            return int(self.w3.eth.get_balance(checked))  # type: ignore[arg-type]

    def code(self, address: str) -> bytes:
        """The runtime code at ``address`` (empty for an account without code)."""
        checked = checked_address(address)
        with translate_errors(self.url, "eth_getCode"):
            return bytes(self.w3.eth.get_code(checked))  # type: ignore[arg-type]

    @property
    def default_sender(self) -> Sender:
        """The first dev signer or node account; what sends when nobody is named."""
        if self.dev_signers:
            return self.dev_signers[0]
        accounts = self.accounts
        if not accounts:
            raise ChainError(
                f"the node at {self.url!r} holds no unlocked account: pass sender= "
                "(a Signer from Keystore.unlock)"
            )
        return accounts[0]

    # -- sending ---------------------------------------------------------------

    def _pending_count(self, address: str) -> int:
        with translate_errors(self.url, "eth_getTransactionCount"):
            return int(self.w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]

    def _fees(self) -> dict[str, int]:
        with translate_errors(self.url, "eth_getBlockByNumber"):
            base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:  # a pre-London chain: legacy pricing
            with translate_errors(self.url, "eth_gasPrice"):
                return {"gasPrice": int(self.w3.eth.gas_price)}
        try:
            with translate_errors(self.url, "eth_maxPriorityFeePerGas"):
                priority = int(self.w3.eth.max_priority_fee)
        except RPCError:
            priority = DEFAULT_PRIORITY_FEE
        return eip1559_fees(int(base_fee), priority)

    def send(
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
        """Send a transaction and wait for its receipt.

        Gas is estimated (a revert is reported before anything is broadcast),
        fees follow EIP-1559, the nonce comes from the :class:`NonceManager`,
        a :class:`Signer` signs locally and a plain address is signed by the node.

        Raises:
            ContractReverted: the transaction reverts; names the custom error.
            TransactionRejected: the node refused it (funds, nonce, fees).
            TransactionTimeout: no receipt within ``timeout``; the account's next
                send asks the node for its nonce again (it may have lost this one).
        """
        sender = sender if sender is not None else self.default_sender
        origin = self._origin(sender)
        known = self._known_errors(errors)
        tx = self._draft(origin, to, data, value, self.chain_id)
        if gas is None:
            try:
                with translate_errors(self.url, "eth_estimateGas", known, contract=contract):
                    gas = gas_with_margin(int(self.w3.eth.estimate_gas(tx_params(tx))))
            except RPCError as exc:  # e.g. insufficient funds for value + gas
                raise TransactionRejected(origin, exc.message) from exc
        tx["gas"] = gas
        tx.update(self._fees())
        tx_hash = self._broadcast(sender, origin, tx)
        try:
            return self.wait(tx_hash, timeout=timeout, errors=known, contract=contract)
        except (TransactionTimeout, RPCUnavailable):
            # The node may have lost it (a restart, an eviction): counting on
            # from it would leave a gap that no later transaction gets past.
            # The node's own count includes it if it still holds it.
            self.nonces.forget(origin)
            raise

    def prepare(
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
        tx = self._draft(origin, to, data, value, self.chain_id)
        if gas is None:
            try:
                with translate_errors(self.url, "eth_estimateGas", known, contract=contract):
                    gas = gas_with_margin(int(self.w3.eth.estimate_gas(tx_params(tx))))
            except RPCError as exc:
                raise TransactionRejected(origin, exc.message) from exc
        tx["gas"] = gas
        tx.update(self._fees())
        tx["nonce"] = self._pending_count(origin)
        tx["type"] = 2 if "maxFeePerGas" in tx else 0
        return self._unsigned(tx)

    def send_raw(self, raw: bytes, *, timeout: float | None = None) -> Receipt:
        """Broadcast a transaction a wallet signed, and wait for its receipt."""
        with translate_errors(self.url, "eth_sendRawTransaction"):
            sent = self.w3.eth.send_raw_transaction(raw)
        return self.wait("0x" + bytes(sent).hex(), timeout=timeout, errors=self._known_errors(()))

    def _broadcast(self, sender: Sender, origin: str, tx: dict[str, Any]) -> str:
        for attempt in range(2):
            try:
                with self.nonces.reserve(origin) as nonce:
                    tx["nonce"] = nonce
                    with translate_errors(self.url, "eth_sendTransaction"):
                        if isinstance(sender, Signer):
                            raw = sender.sign_transaction(self._unsigned(tx))
                            sent = self.w3.eth.send_raw_transaction(raw)
                        else:
                            sent = self.w3.eth.send_transaction(tx_params(tx))
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
                # Another process used this key: ask the node for the nonce once more.
                if attempt == 0 and "nonce" in exc.message.lower():
                    continue
                raise TransactionRejected(origin, exc.message) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def wait(
        self,
        tx_hash: str,
        *,
        timeout: float | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        contract: str | None = None,
    ) -> Receipt:
        """Wait for a transaction's receipt.

        Raises:
            TransactionTimeout: no receipt within ``timeout`` (default: the
                chain's ``receipt_timeout``).
            ContractReverted: the transaction was mined but reverted.
        """
        limit = self.receipt_timeout if timeout is None else timeout
        try:
            with translate_errors(self.url, "eth_getTransactionReceipt"):
                raw = self.w3.eth.wait_for_transaction_receipt(
                    tx_hash,  # type: ignore[arg-type]
                    timeout=limit,
                    poll_latency=self.poll_interval,
                )
        except TimeExhausted as exc:
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
            raise self._explain_failure(receipt, errors, contract)
        return receipt

    def _explain_failure(
        self, receipt: Receipt, errors: Sequence[Mapping[str, Any]], contract: str | None
    ) -> ContractReverted:
        """Recover a mined, reverted transaction's revert data: from the node's
        trace of it where the node has ``debug_traceTransaction`` (anvil,
        geth), else by replaying it as a call (see :meth:`_replay_blocks`)."""
        traced = self._traced_revert(receipt)
        if traced is not None:
            return revert_from_data(traced, errors, contract=contract, tx_hash=receipt.tx_hash)
        try:
            with translate_errors(self.url, "eth_getTransactionByHash"):
                tx = self.w3.eth.get_transaction(receipt.tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return self._unexplained(receipt, contract)
        for block in self._replay_blocks(receipt):
            try:
                with translate_errors(self.url, "eth_call", errors, contract=contract):
                    self.w3.eth.call(tx_params(self._replay(tx)), block)
            except ContractReverted as reverted:
                return revert_from_data(
                    reverted.data, errors, contract=contract, tx_hash=receipt.tx_hash
                )
        return self._unexplained(receipt, contract)

    def _traced_revert(self, receipt: Receipt) -> bytes | None:
        if self.is_embedded:
            return None
        try:
            with translate_errors(self.url, "debug_traceTransaction"):
                answer = self.w3.provider.make_request(
                    "debug_traceTransaction",  # type: ignore[arg-type]
                    [receipt.tx_hash, {"tracer": "callTracer"}],
                )
        except ChainError:
            return None
        return self._trace_output(answer.get("result") if isinstance(answer, Mapping) else None)

    def transfer(self, to: str, value: int, *, sender: Sender | None = None) -> Receipt:
        """Send ``value`` wei to ``to``."""
        return self.send(to=to, value=value, sender=sender)

    # -- contracts -------------------------------------------------------------

    def deploy(
        self,
        contract: str | Artifact,
        *args: Any,
        sender: Sender | None = None,
        value: int = 0,
        record: bool = True,
    ) -> Contract:
        """Deploy one of troika's compiled contracts (by name) or any artifact.

        Args:
            contract: the contract's name (``"AssetRegistry"``) or an :class:`Artifact`.
            *args: the constructor's arguments.
            sender: who deploys; the default sender if omitted.
            value: wei sent to a payable constructor.
            record: remember the address in this chain's deployments record.

        Raises:
            ArtifactNotFound: no compiled contract of that name.
            ContractReverted: the constructor reverted.
        """
        artifact = self._artifact(contract)
        with translate_errors(self.url, "deploy", artifact.errors(), contract=artifact.name):
            factory = self.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
            data = bytes.fromhex(factory.constructor(*args).data_in_transaction.removeprefix("0x"))
        receipt = self.send(
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
            self.deployments.record(
                Deployment(
                    artifact.name, receipt.contract_address, receipt.tx_hash, receipt.block_number
                )
            )
        return self.contract(artifact, receipt.contract_address)

    def contract(self, contract: str | Artifact, address: str) -> Contract:
        """A handle on a deployed contract of a known artifact."""
        return Contract(self, self._artifact(contract), checked_address(address))

    @property
    def deployments(self) -> Deployments:
        """This chain's deployments record (in memory for the embedded EVM)."""
        return self._deployments_of(self.chain_id)

    def deployment(self, name: str) -> Contract:
        """The recorded deployment of ``name`` on this chain.

        Raises:
            DeploymentNotFound: nothing recorded, or the recorded address has no
                code any more (a dev chain that was restarted).
        """
        entry = self.deployments.get(name)
        if entry is None or not self.code(entry.address):
            raise DeploymentNotFound(name, self.chain_id)
        return self.contract(name, entry.address)


class Contract(ContractCore):
    """A deployed contract: call its views, send transactions, decode events.

    troika's own contracts get typed wrappers on top of this class; use it
    directly for contracts that have none.
    """

    def __init__(self, chain: Chain, artifact: Artifact, address: str) -> None:
        web3_contract = chain.w3.eth.contract(address=address, abi=list(artifact.abi))  # type: ignore[call-overload]
        super().__init__(artifact, address, web3_contract, chain)
        self.chain = chain

    def call(self, function: str, *args: Any, sender: str | None = None) -> Any:
        """Call a view (or simulate any function) and return its decoded result.

        Raises:
            ContractReverted: the call reverts.
        """
        options: dict[str, Any] = {}
        if sender is not None:
            options["from"] = checked_address(sender, "sender")
        where = f"{self.name}.{function}"
        with translate_errors(self.chain.url, where, self._errors(), contract=self.name):
            return self._web3.functions[function](*args).call(options)

    def prepare(
        self, function: str, *args: Any, sender: str, value: int = 0, gas: int | None = None
    ) -> dict[str, Any]:
        """An unsigned transaction calling ``function``, for a wallet that only signs."""
        with translate_errors(self.chain.url, f"{self.name}.{function}", contract=self.name):
            data = self._encode(function, args)
        return self.chain.prepare(
            to=self.address,
            sender=sender,
            data=data,
            value=value,
            gas=gas,
            errors=self._errors(),
            contract=self.name,
        )

    def transact(
        self,
        function: str,
        *args: Any,
        sender: Sender | None = None,
        value: int = 0,
        gas: int | None = None,
        timeout: float | None = None,
    ) -> Receipt:
        """Send a transaction to ``function`` and wait for its receipt.

        Raises:
            ContractReverted: it reverts; ``.error`` names the custom error.
        """
        with translate_errors(self.chain.url, f"{self.name}.{function}", contract=self.name):
            data = self._encode(function, args)
        return self.chain.send(
            to=self.address,
            data=data,
            value=value,
            sender=sender,
            gas=gas,
            errors=self._errors(),
            contract=self.name,
            timeout=timeout,
        )

    def logs(
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
            raw = self.chain.w3.eth.get_logs(tx_params(query))  # type: ignore[arg-type]
        return self.decode_logs([Log.from_web3(entry) for entry in raw], name)
