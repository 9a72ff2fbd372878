"""What Chain and AsyncChain share: everything but the I/O.

The twins differ only in how they talk to the node (web3's ``Web3`` or
``AsyncWeb3``); building transactions, naming reverts, keeping the
deployments record and decoding events happen here, once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import is_address, to_checksum_address
from web3.providers.rpc.utils import REQUEST_RETRY_ALLOWLIST, ExceptionRetryConfiguration
from web3.types import TxParams

from troika._errors import ChainError, ContractReverted, InvalidContractCall
from troika.chain._artifacts import Artifact, ArtifactStore
from troika.chain._deployments import Deployments
from troika.chain._keystore import Signer
from troika.chain._types import Event, Log, Receipt

__all__ = ["EMBEDDED_URL", "ChainCore", "ContractCore", "Sender", "checked_address", "tx_params"]

#: What ``Chain.url`` says for the in-process EVM.
EMBEDDED_URL = "embedded:"

#: Who sends a transaction: a local :class:`Signer`, or the address of an
#: account the node itself holds unlocked (anvil's and geth's dev accounts).
Sender: TypeAlias = Signer | str

#: 1 gwei, the priority fee when the node has no eth_maxPriorityFeePerGas.
DEFAULT_PRIORITY_FEE = 10**9


#: How many times a read is retried after a connection error or timeout.
DEFAULT_RETRIES = 3


def read_retries(
    retries: int, errors: tuple[type[BaseException], ...]
) -> ExceptionRetryConfiguration | None:
    """web3's retry settings for ``retries`` retries of reads only (never a
    send: a retried send could be sent twice), with backoff from 0.25 s.

    Example:
        >>> read_retries(0, (ConnectionError,)) is None
        True
        >>> "eth_sendRawTransaction" in read_retries(3, (ConnectionError,)).method_allowlist
        False
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ChainError(f"retries={retries!r}: a whole number >= 0")
    if retries == 0:
        return None
    return ExceptionRetryConfiguration(
        errors=errors,
        retries=retries + 1,  # web3 counts attempts, the first included
        backoff_factor=0.25,
        method_allowlist=[
            method
            for method in REQUEST_RETRY_ALLOWLIST
            if method.startswith(("eth_", "net_")) and "send" not in method.lower()
        ],
    )


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
    def _trace_output(trace: object) -> bytes | None:
        """The revert data in a ``callTracer`` trace of a reverted transaction, if any."""
        if not isinstance(trace, Mapping):
            return None
        output = trace.get("output")
        if not isinstance(output, str) or not trace.get("error"):
            return None
        try:
            return bytes.fromhex(output.removeprefix("0x"))
        except ValueError:
            return None

    @staticmethod
    def _replay_blocks(receipt: Receipt) -> tuple[int, ...]:
        """Where to replay a reverted transaction: on its parent's state (what
        it ran on, but at the parent's time), then on its own block's (its
        time; in a block of several transactions, after the later ones too)."""
        return (max(receipt.block_number - 1, 0), receipt.block_number)

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
        return self.decode_logs(receipt.logs, name)

    def _event_entries(self, name: str | None) -> dict[bytes, Mapping[str, Any]]:
        entries = {
            event_abi_to_log_topic(dict(entry)): entry  # type: ignore[arg-type]
            for entry in self.artifact.abi
            if entry.get("type") == "event" and (name is None or entry.get("name") == name)
        }
        if name is not None and not entries:
            raise InvalidContractCall(f"{self.name}.{name}", "the contract has no such event")
        return entries

    def decode_logs(self, logs: Iterable[Log], name: str | None = None) -> list[Event]:
        """Decode the logs of this contract (optionally of one event kind); skip others."""
        wanted = self._event_entries(name)
        found: list[Event] = []
        for log in logs:
            if log.address.lower() != self.address.lower() or not log.topics:
                continue
            entry = wanted.get(log.topics[0])
            if entry is None:
                continue
            args = _decode_elementary(entry, log)
            if args is None:  # tuples and the like: web3's general (and slower) decoder
                decoded = self._web3.events[str(entry["name"])]().process_log(
                    {
                        "address": log.address,
                        "topics": list(log.topics),
                        "data": log.data,
                        "logIndex": log.log_index,
                        "transactionHash": bytes.fromhex(log.tx_hash[2:]),
                        "transactionIndex": 0,
                        "blockHash": b"\x00" * 32,
                        "blockNumber": log.block_number,
                    }
                )
                args = dict(decoded["args"])
            found.append(
                Event(
                    name=str(entry["name"]),
                    args=args,
                    address=self.address,
                    tx_hash=log.tx_hash,
                    block_number=log.block_number,
                    log_index=log.log_index,
                    block_timestamp=log.block_timestamp,
                )
            )
        return found

    def _log_filter(
        self,
        name: str | None,
        from_block: int | str,
        to_block: int | str,
        indexed: Mapping[str, Any],
    ) -> dict[str, Any]:
        """eth_getLogs parameters for event ``name`` (``None``: any event of the
        contract) whose indexed arguments equal ``indexed``."""
        entries = self._event_entries(name)
        where = f"{self.name}.{name or '*'}"
        layouts = set()
        for entry in entries.values():
            inputs = [i for i in entry.get("inputs", []) if i.get("indexed")]
            layouts.add(tuple((str(i["name"]), str(i["type"])) for i in inputs))
        if len(layouts) > 1 and indexed:
            raise InvalidContractCall(where, "its events index different arguments; name one")
        layout = layouts.pop() if layouts else ()
        unknown = set(indexed) - {arg for arg, _ in layout}
        if unknown:
            raise InvalidContractCall(where, f"no indexed argument named {sorted(unknown)}")
        topics: list[Any] = [["0x" + t.hex() for t in entries]]
        if len(entries) == 1:
            topics = [topics[0][0]]
        for arg, kind in layout:
            value = indexed.get(arg)
            topics.append(None if value is None else "0x" + abi_encode([kind], [value]).hex())
        while topics[-1] is None:
            topics.pop()
        return {
            "address": self.address,
            "fromBlock": from_block,
            "toBlock": to_block,
            "topics": topics,
        }


# A history names the same few addresses again and again; each checksum is a keccak.
_checksum = functools.lru_cache(maxsize=4096)(to_checksum_address)
_ELEMENTARY = re.compile(r"(address|bool|bytes([1-9]|[12][0-9]|3[0-2])?|string|u?int[0-9]*)")
_DYNAMIC = ("bytes", "string")


def _decode_elementary(entry: Mapping[str, Any], log: Log) -> dict[str, Any] | None:
    """An event's arguments as web3's ``process_log`` gives them, decoded straight
    with eth-abi (about 20 times faster); None when an input is not an elementary
    type (tuples, arrays) or the log does not match the ABI, for web3 to handle."""
    inputs = list(entry.get("inputs", ()))
    if not all(_ELEMENTARY.fullmatch(str(i.get("type"))) for i in inputs):
        return None
    indexed = [i for i in inputs if i.get("indexed")]
    if len(log.topics) != len(indexed) + (0 if entry.get("anonymous") else 1):
        return None
    topics = log.topics[len(log.topics) - len(indexed) :]
    plain = [i for i in inputs if not i.get("indexed")]
    try:
        values = iter(abi_decode([str(i["type"]) for i in plain], log.data))
        args: dict[str, Any] = {}
        topic_values = iter(topics)
        for item in inputs:
            kind = str(item["type"])
            if item.get("indexed"):
                topic = next(topic_values)
                # A dynamic indexed value is only its hash in the log, as web3 says too.
                value = topic if kind in _DYNAMIC else abi_decode([kind], topic)[0]
            else:
                value = next(values)
            args[str(item["name"])] = _checksum(value) if kind == "address" else value
    except (DecodingError, ValueError, TypeError, OverflowError):
        return None
    return args
