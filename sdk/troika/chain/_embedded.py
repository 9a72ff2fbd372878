"""The in-process EVM: eth-tester with the py-evm backend.

eth-tester reduces a revert to a message string on its way to web3; troika
needs the raw revert data to name the custom error, so this backend keeps it.
"""

from __future__ import annotations

import threading
from typing import Any

from eth.exceptions import Revert
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.main import (
    EVMSpoofTransaction,
    _execute_and_revert_transaction,
)
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3

__all__ = ["EmbeddedRevert", "embedded_tester", "embedded_web3"]


class EmbeddedRevert(TransactionFailed):  # type: ignore[misc]
    """A revert inside the embedded EVM, with its raw data kept in ``data``."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.data = data


def _revert_data(error: BaseException | None) -> bytes:
    if isinstance(error, Revert) and error.args and isinstance(error.args[0], bytes):
        return error.args[0]
    return b""


class _RevertDataBackend(PyEVMBackend):  # type: ignore[misc]
    def call(self, transaction: dict[str, Any], block_number: Any = "latest") -> bytes:
        defaulted = dict(transaction)
        defaulted.setdefault("gas", self._max_available_gas())
        unsigned = self._get_normalized_and_unsigned_evm_transaction(defaulted, block_number)
        spoofed = EVMSpoofTransaction(unsigned, from_=transaction["from"])
        computation = _execute_and_revert_transaction(self.chain, spoofed, block_number)
        if computation.is_error:
            raise EmbeddedRevert(_revert_data(computation._error))
        return bytes(computation.output)

    def estimate_gas(self, transaction: dict[str, Any], block_number: Any = "latest") -> int:
        try:
            return int(super().estimate_gas(transaction, block_number))
        except TransactionFailed as exc:
            raise EmbeddedRevert(_revert_data(exc.__cause__)) from exc


class _SerialProvider(EthereumTesterProvider):
    """py-evm is not thread-safe (a gas estimate snapshots and reverts the
    state a concurrent send is mining into): one request at a time."""

    def __init__(self, tester: EthereumTester) -> None:
        super().__init__(tester)
        self._serial = threading.RLock()

    def make_request(self, method: Any, params: Any) -> Any:
        with self._serial:
            return super().make_request(method, params)


def embedded_tester(accounts: int = 10) -> tuple[EthereumTester, list[bytes]]:
    """A fresh in-process chain, and the private keys of its funded accounts."""
    backend = _RevertDataBackend(
        genesis_state=PyEVMBackend.generate_genesis_state(num_accounts=accounts)
    )
    return EthereumTester(backend=backend), [key.to_bytes() for key in backend.account_keys]


def embedded_web3(accounts: int = 10) -> tuple[Web3, list[bytes]]:
    """A Web3 on a fresh in-process chain, and the private keys of its funded accounts."""
    tester, keys = embedded_tester(accounts)
    return Web3(_SerialProvider(tester)), keys
