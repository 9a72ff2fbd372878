"""The one place where web3, requests and eth-tester exceptions become troika's."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import aiohttp
import requests
from eth_abi.exceptions import EncodingError
from eth_tester.exceptions import TransactionFailed
from eth_tester.exceptions import ValidationError as TesterValidationError
from eth_utils.exceptions import ValidationError as EVMValidationError
from web3.exceptions import (
    ContractLogicError,
    MismatchedABI,
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
    Web3TypeError,
    Web3ValidationError,
)

from troika._errors import (
    ContractReverted,
    InvalidContractCall,
    RPCError,
    RPCUnavailable,
    TroikaError,
)
from troika.chain._embedded import EmbeddedRevert
from troika.chain._revert import decode_revert

__all__ = ["revert_from_data", "translate_errors"]


def revert_from_data(
    data: bytes,
    errors: Iterable[Mapping[str, Any]],
    *,
    contract: str | None = None,
    tx_hash: str | None = None,
) -> ContractReverted:
    """A :class:`ContractReverted` naming the error that ``data`` encodes."""
    name, args = decode_revert(data, errors)
    return ContractReverted(name, args, data, contract=contract, tx_hash=tx_hash)


def _embedded_revert(exc: BaseException) -> EmbeddedRevert | None:
    seen: BaseException | None = exc
    for _ in range(8):  # exception chains are short; bound the walk anyway
        if seen is None:
            return None
        if isinstance(seen, EmbeddedRevert):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _hex_data(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return b""
    return b""


@contextmanager
def translate_errors(
    url: str,
    method: str,
    errors: Iterable[Mapping[str, Any]] = (),
    *,
    contract: str | None = None,
) -> Iterator[None]:
    """Turn whatever web3 and its transports raise into a :class:`ChainError`.

    ``errors`` are the ABI error entries to name a revert with.
    """
    try:
        yield
    except (TroikaError, TimeExhausted, TransactionNotFound):
        # Ours already; or answers that callers handle themselves (a wait
        # that ran out, a transaction the node does not know).
        raise
    except (requests.Timeout, RequestTimedOut, TimeoutError) as exc:
        raise RPCUnavailable(url, "timed out") from exc
    except (
        requests.ConnectionError,
        aiohttp.ClientConnectionError,
        ProviderConnectionError,
        ConnectionError,
    ) as exc:
        raise RPCUnavailable(url, "connection refused or dropped") from exc
    except ContractLogicError as exc:  # and its ContractCustomError, ContractPanicError
        data = _hex_data(exc.data)
        raise revert_from_data(data, errors, contract=contract) from exc
    except TransactionFailed as exc:
        embedded = _embedded_revert(exc)
        data = embedded.data if embedded is not None else b""
        raise revert_from_data(data, errors, contract=contract) from exc
    except Web3RPCError as exc:
        raise RPCError(url, method, _rpc_message(exc)) from exc
    except (EVMValidationError, TesterValidationError) as exc:
        # The embedded EVM refuses what a node would answer with an RPC error
        # (insufficient funds, bad nonce): report it the same way.
        raise RPCError(url, method, str(exc)) from exc
    except MismatchedABI as exc:  # and ABIFunctionNotFound
        raise InvalidContractCall(method, _first_line(exc)) from exc
    except (Web3ValidationError, Web3TypeError, EncodingError) as exc:
        raise InvalidContractCall(method, _first_line(exc)) from exc
    except (requests.RequestException, aiohttp.ClientError) as exc:
        raise RPCUnavailable(url, type(exc).__name__) from exc
    except Web3Exception as exc:
        # Anything else web3 raises (a malformed node answer, ...).
        raise RPCError(url, method, _first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[:3]) if text else type(exc).__name__


def _rpc_message(exc: Web3RPCError) -> str:
    response = getattr(exc, "rpc_response", None)
    if isinstance(response, Mapping):
        error = response.get("error")
        if isinstance(error, Mapping) and "message" in error:
            return str(error["message"])
    return str(exc.message if getattr(exc, "message", None) else exc)
