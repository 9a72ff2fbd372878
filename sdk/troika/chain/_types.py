"""Values the chain layer returns: immutable, typed, no attribute-dicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["BlockHeader", "Event", "Log", "Receipt", "eip1559_fees", "gas_with_margin"]


@dataclass(frozen=True)
class Log:
    """A raw log entry of a transaction."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes
    log_index: int
    tx_hash: str
    block_number: int
    #: The block's time, when the node puts it in the log (``blockTimestamp``: anvil, geth 1.14+).
    block_timestamp: int | None = None

    @classmethod
    def from_web3(cls, raw: Mapping[str, Any]) -> Log:
        """Convert one of web3's log attribute-dicts."""
        return cls(
            address=str(raw["address"]),
            topics=tuple(bytes(t) for t in raw["topics"]),
            data=bytes(raw["data"]),
            log_index=int(raw["logIndex"]),
            tx_hash="0x" + bytes(raw["transactionHash"]).hex(),
            block_number=int(raw["blockNumber"]),
            block_timestamp=_optional_int(raw.get("blockTimestamp")),
        )


def _optional_int(value: Any) -> int | None:
    # web3 leaves fields it does not know as the node sent them (a hex string).
    if value is None:
        return None
    return int(value, 16) if isinstance(value, str) else int(value)


@dataclass(frozen=True)
class Receipt:
    """A mined transaction's receipt."""

    tx_hash: str
    block_number: int
    status: bool
    sender: str
    to: str | None
    gas_used: int
    effective_gas_price: int
    contract_address: str | None
    logs: tuple[Log, ...]

    @property
    def fee(self) -> int:
        """What the transaction cost its sender, in wei."""
        return self.gas_used * self.effective_gas_price

    @classmethod
    def from_web3(cls, raw: Mapping[str, Any]) -> Receipt:
        """Convert web3's receipt attribute-dict."""
        return cls(
            tx_hash="0x" + bytes(raw["transactionHash"]).hex(),
            block_number=int(raw["blockNumber"]),
            status=int(raw["status"]) == 1,
            sender=str(raw["from"]),
            to=str(raw["to"]) if raw.get("to") else None,
            gas_used=int(raw["gasUsed"]),
            effective_gas_price=int(raw.get("effectiveGasPrice") or 0),
            contract_address=str(raw["contractAddress"]) if raw.get("contractAddress") else None,
            logs=tuple(Log.from_web3(log) for log in raw["logs"]),
        )


@dataclass(frozen=True)
class BlockHeader:
    """A block's header fields that troika reads: its number, hash and time."""

    number: int
    hash: str
    timestamp: int

    @classmethod
    def from_web3(cls, raw: Mapping[str, Any]) -> BlockHeader:
        """Convert web3's block attribute-dict."""
        return cls(
            number=int(raw["number"]),
            hash="0x" + bytes(raw["hash"]).hex(),
            timestamp=int(raw["timestamp"]),
        )


@dataclass(frozen=True)
class Event:
    """A decoded contract event."""

    name: str
    args: Mapping[str, Any]
    address: str
    tx_hash: str
    block_number: int
    log_index: int
    #: The block's time, when the node put it in the log; None otherwise.
    block_timestamp: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", MappingProxyType(dict(self.args)))


def eip1559_fees(base_fee: int, priority_fee: int) -> dict[str, int]:
    """EIP-1559 fee fields that survive the base fee doubling for a block or more.

    Example:
        >>> eip1559_fees(10, 2)
        {'maxPriorityFeePerGas': 2, 'maxFeePerGas': 22}
    """
    return {"maxPriorityFeePerGas": priority_fee, "maxFeePerGas": 2 * base_fee + priority_fee}


def gas_with_margin(estimate: int) -> int:
    """A gas limit 20 % above the estimate (state can move between estimate and mining).

    Example:
        >>> gas_with_margin(100_000)
        120000
    """
    return estimate + estimate // 5
