"""What Chain and AsyncChain share: everything but the I/O.

The twins differ only in how they talk to the node (web3's ``Web3`` or
``AsyncWeb3``); building transactions, naming reverts, keeping the
deployments record and decoding events happen here, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import is_address, to_checksum_address
from web3.types import TxParams

from troika._errors import ChainError, ContractReverted
from troika.chain._artifacts import Artifact, ArtifactStore
from troika.chain._deployments import Deployments
from troika.chain._keystore import Signer
from troika.chain._types import Event, Receipt

__all__ = ["EMBEDDED_URL", "ChainCore", "ContractCore", "Sender", "checked_address", "tx_params"]

#: What ``Chain.url`` says for the in-process EVM.
EMBEDDED_URL = "embedded:"

#: Who sends a transaction: a local :class:`Signer`, or the address of an
#: account the node itself holds unlocked (anvil's and geth's dev accounts).
Sender: TypeAlias = Signer | str

#: 1 gwei, the priority fee when the node has no eth_maxPriorityFeePerGas.
DEFAULT_PRIORITY_FEE = 10**9


def checked_address(value: object, what: str = "address") -> str:
    """``value`` as a checksummed address, or a :class:`ChainError` quoting it."""
    if not isinstance(value, str) or not is_address(value):
        raise ChainError(f"{what} {value!r} is not an Ethereum address")
    return str(to_checksum_address(value))


def tx_params(tx: Mapping[str, Any]) -> TxParams:
    """A plain dict as web3's TxParams (a TypedDict mypy cannot infer from a dict)."""
    params: TxParams = {**tx}  # type: ignore[typeddict-item]
    return params


class ChainCore:
    """The state and pure logic of a chain connection; subclasses do the I/O."""

    def __init__(
        self,
        *,
        url: str,
        dev_signers: Sequence[Signer] = (),
        artifacts: ArtifactStore | None = None,
        home: Path | None = None,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.05,
    ) -> None:
        self.url = url
        self.dev_signers: tuple[Signer, ...] = tuple(dev_signers)
        self.artifacts = artifacts or ArtifactStore()
        self.receipt_timeout = receipt_timeout
        self.poll_interval = poll_interval
        self._home = home
        self._chain_id: int | None = None
        self._deployments: Deployments | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    @property
    def is_embedded(self) -> bool:
        """True for the in-process EVM."""
        return self.url == EMBEDDED_URL

    def _origin(self, sender: Sender) -> str:
        return sender.address if isinstance(sender, Signer) else checked_address(sender, "sender")

    def _known_errors(self, errors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [*errors, *self.artifacts.all_errors()]

    @staticmethod
    def _draft(
        origin: str, to: str | None, data: bytes, value: int, chain_id: int
    ) -> dict[str, Any]:
        if value < 0:
            raise ChainError(f"value {value!r} is negative")
        tx: dict[str, Any] = {"from": origin, "value": value, "data": data, "chainId": chain_id}
        if to is not None:
            tx["to"] = checked_address(to, "to")
        return tx

    @staticmethod
    def _unsigned(tx: Mapping[str, Any]) -> dict[str, Any]:
        # What a local signer signs: everything but "from", which the signature implies.
        return {key: value for key, value in tx.items() if key != "from"}

    @staticmethod
    def _replay(tx: Mapping[str, Any]) -> dict[str, Any]:
        """The call that re-runs a mined transaction, to recover its revert data."""
        return {
            "from": tx["from"],
            "to": tx.get("to"),
            "data": tx.get("input", b""),
            "value": tx.get("value", 0),
            "gas": tx["gas"],
        }

    @staticmethod
    def _unexplained(receipt: Receipt, contract: str | None) -> ContractReverted:
        return ContractReverted(None, (), b"", contract=contract, tx_hash=receipt.tx_hash)

    def _artifact(self, contract: str | Artifact) -> Artifact:
        return contract if isinstance(contract, Artifact) else self.artifacts.load(contract)

    def _deployments_of(self, chain_id: int) -> Deployments:
        if self._deployments is None:
            if self._home is None:
                self._deployments = Deployments(chain_id, None)
            else:
                self._deployments = Deployments.for_home(self._home, chain_id)
        return self._deployments


class ContractCore:
    """A deployed contract's identity and pure logic; subclasses do the I/O."""

    def __init__(
        self, artifact: Artifact, address: str, web3_contract: Any, chain: ChainCore
    ) -> None:
        self.artifact = artifact
        self.address = address
        self._web3 = web3_contract
        self._chain_core = chain

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, address={self.address!r})"

    @property
    def name(self) -> str:
        """The contract's name (its artifact's)."""
        return self.artifact.name

    def _errors(self) -> list[Mapping[str, Any]]:
        return self._chain_core._known_errors(self.artifact.errors())

    def _encode(self, function: str, args: Sequence[Any]) -> bytes:
        data = self._web3.encode_abi(function, list(args))
        return bytes.fromhex(str(data).removeprefix("0x"))

    def events(self, receipt: Receipt, name: str | None = None) -> list[Event]:
        """The events this contract emitted in ``receipt``, decoded (optionally one kind)."""
        wanted = {
            event_abi_to_log_topic(dict(entry)): str(entry["name"])  # type: ignore[arg-type]
            for entry in self.artifact.abi
            if entry.get("type") == "event" and (name is None or entry.get("name") == name)
        }
        found: list[Event] = []
        for log in receipt.logs:
            if log.address.lower() != self.address.lower() or not log.topics:
                continue
            event_name = wanted.get(log.topics[0])
            if event_name is None:
                continue
            decoded = self._web3.events[event_name]().process_log(
                {
                    "address": log.address,
                    "topics": list(log.topics),
                    "data": log.data,
                    "logIndex": log.log_index,
                    "transactionHash": bytes.fromhex(receipt.tx_hash[2:]),
                    "transactionIndex": 0,
                    "blockHash": b"\x00" * 32,
                    "blockNumber": receipt.block_number,
                }
            )
            found.append(
                Event(
                    name=event_name,
                    args=dict(decoded["args"]),
                    address=self.address,
                    tx_hash=receipt.tx_hash,
                    block_number=receipt.block_number,
                    log_index=log.log_index,
                )
            )
        return found
