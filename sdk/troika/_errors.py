"""Every error troika raises, in one tree.

```
TroikaError
 ├── ConfigError (ValueError)              bad settings: .field, .value
 ├── ChainError
 │    ├── RPCUnavailable                    node unreachable or not JSON-RPC: .url
 │    ├── RPCError                          the node answered a call with an error: .url, .method
 │    ├── ChainIdMismatch                   .url, .expected, .actual
 │    ├── ArtifactNotFound (LookupError)    no compiled contract of that name: .name
 │    ├── DeploymentNotFound (LookupError)  .name, .chain_id
 │    ├── InvalidContractCall (ValueError)  no function/constructor takes these args: .call
 │    ├── TransactionError                  .tx_hash (None if never broadcast)
 │    │    ├── ContractReverted             .error, .error_args, .data, .contract
 │    │    ├── TransactionRejected          the node refused it (funds, nonce, fees): .reason
 │    │    └── TransactionTimeout           .tx_hash, .timeout
 │    └── KeystoreError                     .name
 │         ├── InvalidKeyName (ValueError)  .name
 │         ├── KeyNotFound (LookupError)    .name
 │         ├── KeyExists                    .name
 │         └── WrongPassword                .name
 ├── IPFSError
 │    ├── InvalidCID (ValueError)           not a CID: .cid
 │    ├── IPFSUnavailable                   no IPFS API answering at .url
 │    └── IPFSRequestError                  the API refused a call: .url, .status, .response
 ├── DIDError
 ├── AssetError
 └── ComputeError
```

Errors about a bad argument also subclass the matching builtin, so
``except ValueError`` keeps working for callers who never heard of troika.
Every error keeps the offending value as an attribute and quotes it with
``!r`` in its one-line message, which also says what to do about it.
Foreign exceptions (web3, httpx, eth-abi) are translated once per layer,
with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactNotFound",
    "AssetError",
    "ChainError",
    "ChainIdMismatch",
    "ComputeError",
    "ConfigError",
    "ContractReverted",
    "DIDError",
    "DeploymentNotFound",
    "IPFSError",
    "IPFSRequestError",
    "IPFSUnavailable",
    "InvalidCID",
    "InvalidContractCall",
    "InvalidKeyName",
    "KeyExists",
    "KeyNotFound",
    "KeystoreError",
    "RPCError",
    "RPCUnavailable",
    "TransactionError",
    "TransactionRejected",
    "TransactionTimeout",
    "TroikaError",
    "WrongPassword",
]


class TroikaError(Exception):
    """The root of every error troika raises on purpose."""


class ConfigError(TroikaError, ValueError):
    """A setting has a value troika cannot use."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"setting {field}={value!r} is invalid: {reason}")


# -- chain -------------------------------------------------------------------


class ChainError(TroikaError):
    """Something went wrong reaching or using an EVM chain."""


class RPCUnavailable(ChainError):
    """No JSON-RPC node answers at the URL."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(
            f"no JSON-RPC node answers at {url!r} ({reason}); "
            "check that the node is running and the URL (TROIKA_RPC_URL) is right"
        )


class RPCError(ChainError):
    """The node answered a JSON-RPC call with an error."""

    def __init__(self, url: str, method: str, message: str) -> None:
        self.url = url
        self.method = method
        self.message = message
        super().__init__(f"the node at {url!r} refused {method!r}: {message}")


class ChainIdMismatch(ChainError):
    """The node serves a different chain than the caller expects."""

    def __init__(self, url: str, expected: int, actual: int) -> None:
        self.url = url
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"the node at {url!r} serves chain id {actual!r}, not the expected {expected!r}; "
            "point TROIKA_RPC_URL at the right network or fix TROIKA_CHAIN_ID"
        )


class ArtifactNotFound(ChainError, LookupError):
    """No compiled contract of that name ships with troika."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(
            f"no compiled contract named {name!r}; known: {', '.join(known) or 'none'} "
            "(rebuild with `npm run build --prefix contracts` if you added one)"
        )


class DeploymentNotFound(ChainError, LookupError):
    """The contract has not been deployed on this chain (as far as troika knows)."""

    def __init__(self, name: str, chain_id: int) -> None:
        self.name = name
        self.chain_id = chain_id
        super().__init__(
            f"no deployment of {name!r} is recorded for chain id {chain_id!r}; "
            "deploy it with Chain.deploy() or record its address"
        )


class InvalidContractCall(ChainError, ValueError):
    """No function (or constructor) of the contract takes these arguments."""

    def __init__(self, call: str, reason: str) -> None:
        self.call = call
        self.reason = reason
        super().__init__(f"cannot call {call!r}: {reason}")


class TransactionError(ChainError):
    """A transaction failed; ``tx_hash`` is None when it was never broadcast."""

    def __init__(self, message: str, tx_hash: str | None = None) -> None:
        self.tx_hash = tx_hash
        super().__init__(message)


class ContractReverted(TransactionError):
    """A contract call or transaction reverted.

    ``error`` names the custom error (``"OwnableUnauthorizedAccount"``), or is
    ``"Error"`` for ``require``/``revert("...")`` and ``"Panic"`` for a panic
    code (None if the data matches no known error); ``error_args`` holds its
    decoded arguments (``args`` is BaseException's); ``data`` the raw revert data.
    """

    def __init__(
        self,
        error: str | None,
        args: tuple[Any, ...],
        data: bytes,
        *,
        contract: str | None = None,
        tx_hash: str | None = None,
    ) -> None:
        self.error = error
        self.error_args = args
        self.data = data
        self.contract = contract
        where = f" in {contract}" if contract else ""
        if error is None:
            what = f"with undecodable data 0x{data.hex()}" if data else "without a reason"
        else:
            what = f"with {error}({', '.join(repr(a) for a in args)})"
        hashed = f" (tx {tx_hash})" if tx_hash else ""
        super().__init__(f"the call reverted{where} {what}{hashed}", tx_hash)


class TransactionRejected(TransactionError):
    """The node refused to accept the transaction (funds, nonce, fees, size)."""

    def __init__(self, sender: str, reason: str) -> None:
        self.sender = sender
        self.reason = reason
        super().__init__(f"the node rejected a transaction from {sender!r}: {reason}")


class TransactionTimeout(TransactionError):
    """No receipt arrived within the timeout; the transaction may still be mined."""

    def __init__(self, tx_hash: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(
            f"transaction {tx_hash!r} was not mined within {timeout!r} s; it may still be "
            "pending: wait for it again or replace it with the same nonce",
            tx_hash,
        )


class KeystoreError(ChainError):
    """A key in the keystore could not be created, found or unlocked."""

    def __init__(self, message: str, name: str) -> None:
        self.name = name
        super().__init__(message)


class InvalidKeyName(KeystoreError, ValueError):
    """A key name that cannot be a file name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"invalid key name {name!r}: use 1-64 letters, digits, '-', '_' or '.', "
            "not starting with '.'",
            name,
        )


class KeyNotFound(KeystoreError, LookupError):
    """No key of that name (or address) is in the keystore."""

    def __init__(self, name: str, home: str) -> None:
        self.home = home
        super().__init__(
            f"no key named {name!r} in {home!r}; create one with `troika keys new {name}`",
            name,
        )


class KeyExists(KeystoreError):
    """A key of that name exists already; troika never overwrites a key."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"a key named {name!r} exists already; choose another name (keys are never "
            "overwritten)",
            name,
        )


class WrongPassword(KeystoreError):
    """The password does not decrypt the key."""

    def __init__(self, name: str) -> None:
        super().__init__(f"wrong password for key {name!r}", name)


# -- ipfs --------------------------------------------------------------------


class IPFSError(TroikaError):
    """Something went wrong addressing, storing or fetching IPFS content."""


class InvalidCID(IPFSError, ValueError):
    """A string or byte string that is not a CID."""

    def __init__(self, cid: object, reason: str) -> None:
        self.cid = cid
        super().__init__(f"invalid CID {cid!r}: {reason}")


class IPFSUnavailable(IPFSError):
    """No IPFS (Kubo) RPC API answers at the URL."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(
            f"no IPFS RPC API answers at {url!r} ({reason}); start the node with "
            "`ipfs daemon` or fix TROIKA_IPFS_API"
        )


class IPFSRequestError(IPFSError):
    """The IPFS RPC API answered a call with an error."""

    def __init__(self, url: str, status: int, response: str) -> None:
        self.url = url
        self.status = status
        self.response = response
        super().__init__(f"IPFS RPC call {url!r} failed with HTTP {status}: {response!r}")


# -- later layers --------------------------------------------------------------


class DIDError(TroikaError):
    """Something went wrong parsing, resolving or updating a DID."""


class AssetError(TroikaError):
    """Something went wrong minting, reading or licensing a data or model asset."""


class ComputeError(TroikaError):
    """Something went wrong requesting, running or settling a compute job."""
