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
 │    ├── IPFSRequestError                  the API refused a call: .url, .status, .response
 │    │    └── KuboAPIError                  Kubo's own error: .message, .code
 │    ├── PinningServiceError               a pinning service refused a call: .url, .status, .reason
 │    ├── PinFailed                         the pinning service gave up on a pin: .cid, .requestid
 │    ├── PinTimeout                        not pinned within the wait: .cid, .requestid, .timeout
 │    ├── CARError (ValueError)             truncated, malformed or tampered CAR: .offset, .cid
 │    ├── VerificationError                 a block does not hash to its CID: .cid, .source
 │    ├── BlockNotFound (LookupError)       .cid, .store
 │    │    └── IncompleteDAG                a block under .root is missing: .root, .cid
 │    ├── UnreadableBlock (ValueError)      troika cannot read the block's links: .cid
 │    ├── CorruptStore                      a store's own file is damaged: .path
 │    ├── NotAFile (ValueError)             the CID is a directory or symlink: .cid
 │    ├── ContentTooLarge                   more than the caller's limit: .cid, .size, .limit
 │    └── PathError (OSError)               a local path troika cannot use: .path
 │         ├── PathNotFound (FileNotFoundError)
 │         ├── PathUnreadable (PermissionError)
 │         └── SymlinkLoop                  following its symlinks loops: .path
 ├── DIDError
 │    ├── InvalidDID (ValueError)           not a DID or DID URL: .did, .error
 │    │    └── InvalidPublicKey             a did:key whose key is unusable: .did, .error
 │    ├── DIDResolutionError                resolution failed: .did, .error (spec's code)
 │    │    ├── DIDNotFound (LookupError)    .did
 │    │    └── MethodNotSupported           no resolver for the method: .did, .method
 │    └── SIWEError                         Sign-In with Ethereum failed: .message
 │         ├── InvalidSIWEMessage (ValueError)  not an EIP-4361 message: .text, .line
 │         ├── SIWESignatureError           malformed, or not the address's: .address, .recovered
 │         ├── SIWEDomainMismatch           .expected, .actual
 │         ├── SIWENonceMismatch            .expected, .actual
 │         ├── SIWEChainMismatch            .expected, .actual
 │         ├── SIWEExpired                  past its Expiration Time: .expiration_time, .now
 │         ├── SIWENotYetValid              before its Not Before: .not_before, .now
 │         └── SIWEDIDMismatch              the signer is not that DID: .did, .address
 ├── AssetError
 │    ├── InvalidMetadata (ValueError)      failed validation: .errors, every problem
 │    ├── InvalidAssetArgument (ValueError) a bad argument to an asset call: .name, .value
 │    ├── AssetNotFound (LookupError)       no token of that id: .token_id
 │    ├── MetadataMismatch                  not the chain's commitment: .token_id, .cid
 │    ├── ContentChanged                    a file changed while it was being pinned: .path
 │    ├── NoKeyAgreementKey                 the DID publishes no X25519 key to encrypt to: .did
 │    ├── NotEntitled                       no content key for the caller: .token_id, .did
 │    ├── DecryptionError                   tampered or truncated ciphertext or envelope: .reason
 │    ├── MintPending                       an earlier mint is still unmined: .account, .pending
 │    └── AssetPermissionDenied             not owner/minter, or no funds: .account, .reason
 └── ComputeError
      ├── InvalidJob (ValueError)           unknown kind, malformed parameters: .field, .value
      ├── JobNotFound (LookupError)         .job_id
      ├── NotLicensed                       the requester may not use a token: .token_id, .account
      ├── BudgetExhausted                   the epsilon would exceed a dataset's budget: .dataset_id
      ├── PaymentTooLow                     below what a node asks: .payment, .minimum, .token
      ├── PaymentTokenError                 a token that fails, shortchanges or is refused: .token
      ├── JobStateError                     not possible in the job's state: .job_id, .status
      ├── JobPermissionDenied               not the requester, owner or node: .job_id, .account
      ├── ResultMismatch                    a result that is not the chain's digest: .job_id, .cid
      └── JobFailed                         the computation failed: .job_id, .reason
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
    "AssetNotFound",
    "AssetPermissionDenied",
    "BlockNotFound",
    "BudgetExhausted",
    "CARError",
    "ChainError",
    "ChainIdMismatch",
    "ComputeError",
    "ConfigError",
    "ContentChanged",
    "ContentTooLarge",
    "ContractReverted",
    "CorruptStore",
    "DIDError",
    "DIDNotFound",
    "DIDResolutionError",
    "DecryptionError",
    "DeploymentNotFound",
    "IPFSError",
    "IPFSRequestError",
    "IPFSUnavailable",
    "IncompleteDAG",
    "InvalidAssetArgument",
    "InvalidCID",
    "InvalidContractCall",
    "InvalidDID",
    "InvalidJob",
    "InvalidKeyName",
    "InvalidMetadata",
    "InvalidPublicKey",
    "InvalidSIWEMessage",
    "JobFailed",
    "JobNotFound",
    "JobPermissionDenied",
    "JobStateError",
    "KeyExists",
    "KeyNotFound",
    "KeystoreError",
    "KuboAPIError",
    "MetadataMismatch",
    "MethodNotSupported",
    "MintPending",
    "NoKeyAgreementKey",
    "NotAFile",
    "NotEntitled",
    "NotLicensed",
    "PathError",
    "PathNotFound",
    "PathUnreadable",
    "PaymentTokenError",
    "PaymentTooLow",
    "PinFailed",
    "PinTimeout",
    "PinningServiceError",
    "RPCError",
    "RPCUnavailable",
    "ResultMismatch",
    "SIWEChainMismatch",
    "SIWEDIDMismatch",
    "SIWEDomainMismatch",
    "SIWEError",
    "SIWEExpired",
    "SIWENonceMismatch",
    "SIWENotYetValid",
    "SIWESignatureError",
    "SymlinkLoop",
    "TransactionError",
    "TransactionRejected",
    "TransactionTimeout",
    "TroikaError",
    "UnreadableBlock",
    "VerificationError",
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
    """No IPFS (Kubo) RPC API answers at the URL (or no gateway or pinning service, as named)."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        service: str = "IPFS RPC API",
        advice: str = "start the node with `ipfs daemon` or fix TROIKA_IPFS_API",
    ) -> None:
        self.url = url
        super().__init__(f"no {service} answers at {url!r} ({reason}); {advice}")


class IPFSRequestError(IPFSError):
    """The IPFS RPC API answered a call with an error."""

    def __init__(
        self, url: str, status: int, response: str, *, call: str = "IPFS RPC call"
    ) -> None:
        self.url = url
        self.status = status
        self.response = response
        super().__init__(f"{call} {url!r} failed with HTTP {status}: {response!r}")


class KuboAPIError(IPFSRequestError):
    """Kubo's RPC API answered a call with an error; ``.message`` is Kubo's own words."""

    def __init__(self, url: str, status: int, message: str, *, code: int | None = None) -> None:
        self.message = message
        self.code = code
        super().__init__(url, status, message)


class PinningServiceError(IPFSError):
    """A pinning service answered a call with an error (the Pinning Service API's ``Failure``).

    ``reason`` is the service's code for machines (``"NOT_FOUND"``,
    ``"UNAUTHORIZED"``, ...) and ``details`` its explanation, if it gave one.
    """

    def __init__(self, url: str, status: int, reason: str, details: str | None = None) -> None:
        self.url = url
        self.status = status
        self.reason = reason
        self.details = details
        said = f"{reason!r}: {details}" if details else repr(reason)
        if status == 401:
            message = (
                f"the pinning service refused the access token at {url!r} (HTTP 401 {said}); "
                "the token is missing, wrong or revoked: pass a valid one"
            )
        else:
            message = f"the pinning service refused {url!r} with HTTP {status} {said}"
        super().__init__(message)


class PinFailed(IPFSError):
    """The pinning service gave up on a pin request (its status is ``failed``)."""

    def __init__(self, cid: str, requestid: str, details: str | None = None) -> None:
        self.cid = cid
        self.requestid = requestid
        self.details = details
        why = f": {details}" if details else " (it gave no reason)"
        super().__init__(
            f"the pinning service could not pin {cid!r} (request {requestid!r}){why}; "
            "make sure a node that has the content is reachable, or pass it in origins"
        )


class PinTimeout(IPFSError):
    """A pin request was not pinned within the wait; the service may still pin it."""

    def __init__(self, cid: str, requestid: str, last_status: str, timeout: float) -> None:
        self.cid = cid
        self.requestid = requestid
        self.last_status = last_status
        self.timeout = timeout
        super().__init__(
            f"pin request {requestid!r} for {cid!r} was still {last_status!r} after "
            f"{timeout!r} s; the service may still pin it: wait again, or remove the request"
        )


class CARError(IPFSError, ValueError):
    """A CAR file or stream that is truncated, malformed, too large or tampered with.

    ``offset`` is the byte in the stream where the faulty part starts; ``cid``
    is the block's CID when one block is at fault, else None.
    """

    def __init__(self, reason: str, offset: int, cid: object = None) -> None:
        self.reason = reason
        self.offset = offset
        self.cid = cid
        super().__init__(f"invalid CAR at byte {offset!r}: {reason}")


class VerificationError(IPFSError):
    """A block that does not hash to the CID it was stored or fetched under."""

    def __init__(self, cid: object, source: str, reason: str | None = None) -> None:
        self.cid = cid
        self.source = source
        why = reason or "its bytes do not hash to the CID (corrupted or tampered with)"
        super().__init__(f"block {str(cid)!r} from {source} failed verification: {why}")


class BlockNotFound(IPFSError, LookupError):
    """A store does not have the block."""

    def __init__(self, cid: object, store: str, message: str | None = None) -> None:
        self.cid = cid
        self.store = store
        super().__init__(message or f"no block {str(cid)!r} in {store}")


class IncompleteDAG(BlockNotFound):
    """A block of the DAG under ``root`` is missing, so it cannot be pinned or exported."""

    def __init__(self, root: object, cid: object, store: str) -> None:
        self.root = root
        super().__init__(
            cid,
            store,
            f"the DAG under {str(root)!r} is incomplete: block {str(cid)!r} is not in "
            f"{store}; put the missing blocks first (for example, the whole DAG as a CAR)",
        )


class UnreadableBlock(IPFSError, ValueError):
    """A block whose links troika cannot read (an unsupported codec, or malformed)."""

    def __init__(self, cid: object, reason: str) -> None:
        self.cid = cid
        self.reason = reason
        super().__init__(f"cannot read the links of block {str(cid)!r}: {reason}")


class CorruptStore(IPFSError):
    """A store's own bookkeeping file is damaged; troika will not guess its content."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"the store file {path!r} is damaged ({reason}); nothing is pinned, unpinned "
            "or garbage-collected until it is restored from a backup or repaired"
        )


class NotAFile(IPFSError, ValueError):
    """The content at a CID is a directory or a symlink where a file was expected."""

    def __init__(self, cid: object, kind: str) -> None:
        self.cid = cid
        self.kind = kind
        super().__init__(f"{str(cid)!r} is a {kind}, not a file; export it to a folder instead")


class ContentTooLarge(IPFSError):
    """Content bigger than the limit the caller set; nothing of it was written."""

    def __init__(self, cid: object, size: int, limit: int) -> None:
        self.cid = cid
        self.size = size
        self.limit = limit
        super().__init__(
            f"{str(cid)!r} holds {size!r} bytes, more than the limit of {limit!r}; "
            "raise max_size if you trust it"
        )


class PathError(IPFSError, OSError):
    """A local path that troika cannot import from or export to."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot use {path!r}: {reason}")


class PathNotFound(PathError, FileNotFoundError):
    """Nothing exists at the path (or a directory on the way is missing)."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "no such file or directory; check the path")


class PathUnreadable(PathError, PermissionError):
    """The path exists, but troika has no permission to read it."""

    def __init__(self, path: str) -> None:
        super().__init__(
            path, "permission denied; troika skips nothing silently, so fix its permissions"
        )


class SymlinkLoop(PathError):
    """Following the symlinks at the path leads back to where it started."""

    def __init__(self, path: str) -> None:
        super().__init__(
            path, "its symlinks loop back on themselves; import without following symlinks"
        )


# -- later layers --------------------------------------------------------------


class DIDError(TroikaError):
    """Something went wrong parsing, resolving or updating a DID."""


class InvalidDID(DIDError, ValueError):
    """Not a DID or DID URL (W3C DID Core syntax), or not a valid DID of its method.

    ``error`` is the DID Resolution error code a resolver reports for it.
    """

    error: str

    def __init__(self, did: object, reason: str, *, error: str = "invalidDid") -> None:
        self.did = did
        self.error = error
        super().__init__(f"invalid DID {did!r}: {reason}")


class InvalidPublicKey(InvalidDID):
    """A did:key whose public key is malformed, of the wrong length or of an unsupported type.

    ``error`` is the did:key specification's code: ``invalidPublicKey``,
    ``invalidPublicKeyLength``, ``invalidPublicKeyType`` or ``unsupportedPublicKeyType``.
    """

    def __init__(self, did: object, reason: str, *, error: str = "invalidPublicKey") -> None:
        super().__init__(did, reason, error=error)


class DIDResolutionError(DIDError):
    """A DID could not be resolved; ``error`` is the DID Resolution error code."""

    def __init__(self, did: str, error: str, reason: str) -> None:
        self.did = did
        self.error = error
        self.reason = reason
        super().__init__(f"cannot resolve {did!r}: {error} ({reason})")


class DIDNotFound(DIDResolutionError, LookupError):
    """The DID's method found no DID document for it (``notFound``)."""

    def __init__(self, did: str, reason: str = "no DID document exists for it") -> None:
        super().__init__(did, "notFound", reason)


class MethodNotSupported(DIDResolutionError):
    """The resolver has no method registered for the DID's method (``methodNotSupported``)."""

    def __init__(self, did: str, method: str, reason: str | None = None) -> None:
        self.method = method
        super().__init__(
            did,
            "methodNotSupported",
            reason or f"no resolver for did:{method}; register one with Resolver.register()",
        )


class SIWEError(DIDError):
    """A Sign-In with Ethereum (EIP-4361) message did not parse or did not verify.

    ``message`` is the parsed message (a ``troika.did.SIWEMessage``), or the
    text when it did not parse.
    """

    def __init__(self, message: object, reason: str) -> None:
        self.message = message
        super().__init__(reason)


class InvalidSIWEMessage(SIWEError, ValueError):
    """Not an EIP-4361 message: ``line`` (1-based) is where it stops matching the ABNF."""

    def __init__(self, text: str, line: int, reason: str) -> None:
        self.text = text
        self.line = line
        super().__init__(text, f"not a Sign-In with Ethereum message (line {line}): {reason}")


class SIWESignatureError(SIWEError):
    """The signature is malformed, or an account other than the message's signed it."""

    def __init__(self, message: object, address: str, recovered: str | None, reason: str) -> None:
        self.address = address
        self.recovered = recovered
        super().__init__(message, f"the signature does not prove {address!r}: {reason}")


class _SIWEMismatch(SIWEError):
    field = ""

    def __init__(self, message: object, expected: object, actual: object) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            message, f"the message's {self.field} is {actual!r}, not the expected {expected!r}"
        )


class SIWEDomainMismatch(_SIWEMismatch):
    """The message was made for another domain (a phishing site's, perhaps)."""

    field = "domain"


class SIWENonceMismatch(_SIWEMismatch):
    """The message's nonce is not the one the server issued for this sign-in (a replay?)."""

    field = "nonce"


class SIWEChainMismatch(_SIWEMismatch):
    """The message names another chain id than the server expects."""

    field = "chain id"


class SIWEExpired(SIWEError):
    """The message's Expiration Time has passed."""

    def __init__(self, message: object, expiration_time: object, now: object) -> None:
        self.expiration_time = expiration_time
        self.now = now
        super().__init__(message, f"the message expired at {expiration_time!r} (now {now!r})")


class SIWENotYetValid(SIWEError):
    """The message's Not Before time has not come yet."""

    def __init__(self, message: object, not_before: object, now: object) -> None:
        self.not_before = not_before
        self.now = now
        super().__init__(message, f"the message is not valid before {not_before!r} (now {now!r})")


class SIWEDIDMismatch(SIWEError):
    """The message's signer is not the DID it claims to sign in as."""

    def __init__(self, message: object, did: str, address: str, reason: str) -> None:
        self.did = did
        self.address = address
        super().__init__(message, f"{address!r} cannot sign in as {did!r}: {reason}")


class AssetError(TroikaError):
    """Something went wrong minting, reading or licensing a data or model asset."""


class ComputeError(TroikaError):
    """Something went wrong requesting, running or settling a compute job."""


class InvalidMetadata(AssetError, ValueError):
    """Asset metadata that failed validation; ``.errors`` lists every problem.

    Each entry is a dict with ``loc`` (the path to the field, as a tuple),
    ``msg`` and ``input``, as pydantic reports them.
    """

    def __init__(self, errors: list[dict[str, Any]], title: str = "metadata") -> None:
        self.errors = errors
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', ())) or '(root)'}: "
            f"{error.get('msg', 'invalid')}"
            for error in errors
        )
        super().__init__(f"{title} is invalid ({len(errors)} problem(s)): {problems}")


class InvalidAssetArgument(AssetError, ValueError):
    """A bad argument to an asset call (zero address, past expiry, royalty over 100 %)."""

    def __init__(self, name: str, value: object, reason: str) -> None:
        self.name = name
        self.value = value
        super().__init__(f"{name}={value!r}: {reason}")


class AssetNotFound(AssetError, LookupError):
    """No token of that id exists in the registry."""

    def __init__(self, token_id: int, registry: str | None = None) -> None:
        self.token_id = token_id
        self.registry = registry
        where = f" in the registry at {registry!r}" if registry else ""
        super().__init__(f"no asset token {token_id!r}{where}")


class MetadataMismatch(AssetError):
    """Metadata fetched from IPFS does not hash to the token's on-chain commitment."""

    def __init__(self, token_id: int, cid: object, reason: str) -> None:
        self.token_id = token_id
        self.cid = cid
        super().__init__(f"token {token_id!r}: metadata {str(cid)!r} {reason}")


class ContentChanged(AssetError):
    """A file changed while it was being hashed, encrypted or pinned; nothing was minted."""

    def __init__(self, path: object) -> None:
        self.path = path
        super().__init__(
            f"{str(path)!r} changed while it was being pinned; nothing was minted, try again"
        )


class NoKeyAgreementKey(AssetError):
    """The DID's document publishes no X25519 key-agreement key to encrypt a content key to."""

    def __init__(self, did: object) -> None:
        self.did = did
        super().__init__(
            f"{str(did)!r} publishes no X25519 key-agreement key, so no content key can "
            "be encrypted to it; create it with troika's Identities, or publish one"
        )


class NotEntitled(AssetError):
    """The asset's envelope holds no content key for the caller."""

    def __init__(self, token_id: int | None, did: object) -> None:
        self.token_id = token_id
        self.did = did
        what = f"token {token_id!r}" if token_id is not None else "this envelope"
        super().__init__(
            f"{what} holds no content key for {str(did)!r}; ask its owner for a licence"
        )


class DecryptionError(AssetError):
    """Ciphertext or an envelope was tampered with, truncated, or is for another key."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"cannot decrypt: {reason}")


class AssetPermissionDenied(AssetError):
    """The registry refused: the caller is not the token's owner, a minter, or lacks funds."""

    def __init__(self, token_id: int | None, account: str, reason: str) -> None:
        self.token_id = token_id
        self.account = account
        self.reason = reason
        what = f"token {token_id!r}: " if token_id is not None else ""
        super().__init__(f"{what}{account!r} {reason}")


class InvalidJob(ComputeError, ValueError):
    """A job that troika cannot run: an unknown kind, malformed or out-of-range parameters."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}={value!r}: {reason}")


class JobNotFound(ComputeError, LookupError):
    """No job of that id exists."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(f"no compute job {job_id!r}")


class NotLicensed(ComputeError):
    """The requester neither owns a token the job names nor holds an unexpired licence."""

    def __init__(self, token_id: int, account: str) -> None:
        self.token_id = token_id
        self.account = account
        super().__init__(f"{account!r} may not use token {token_id!r}: ask its owner for a licence")


class BudgetExhausted(ComputeError):
    """The job's epsilon exceeds what remains of a dataset's privacy budget."""

    def __init__(self, dataset_id: int, requested: float, remaining: float) -> None:
        self.dataset_id = dataset_id
        self.requested = requested
        self.remaining = remaining
        super().__init__(
            f"dataset {dataset_id!r}: epsilon {requested!r} exceeds the {remaining!r} left "
            "of its privacy budget"
        )


class PaymentTooLow(ComputeError):
    """The job pays less than a node's policy asks (in the native coin, or in
    the job's ERC-20 ``token``)."""

    def __init__(self, payment: int, minimum: int, token: str | None = None) -> None:
        self.payment = payment
        self.minimum = minimum
        self.token = token
        unit = "wei" if token is None else f"of token {token!r}"
        super().__init__(f"payment {payment!r} {unit} is below the minimum of {minimum!r} {unit}")


class PaymentTokenError(ComputeError):
    """A job's ERC-20 payment token failed: it is no contract, refused or
    failed a transfer, delivered another amount than the one named (a fee on
    transfer), or a node's policy does not accept it."""

    def __init__(self, token: str, reason: str) -> None:
        self.token = token
        self.reason = reason
        super().__init__(f"payment token {token!r}: {reason}")


class JobStateError(ComputeError):
    """The call is not possible in the job's current state (or before/after its deadline)."""

    def __init__(self, job_id: int, status: str, reason: str) -> None:
        self.job_id = job_id
        self.status = status
        super().__init__(f"job {job_id!r} is {status}: {reason}")


class JobPermissionDenied(ComputeError):
    """The caller is not the job's requester, a dataset's owner, or its registered node."""

    def __init__(self, job_id: int | None, account: str, reason: str) -> None:
        self.job_id = job_id
        self.account = account
        what = f"job {job_id!r}: " if job_id is not None else ""
        super().__init__(f"{what}{account!r} {reason}")


class ResultMismatch(ComputeError):
    """A fetched result does not hash to the digest that the nodes confirmed on chain."""

    def __init__(self, job_id: int, cid: object, reason: str) -> None:
        self.job_id = job_id
        self.cid = cid
        super().__init__(f"job {job_id!r}: result {str(cid)!r} {reason}")


class JobFailed(ComputeError):
    """The computation itself failed (too many nodes dropped out, a node refused)."""

    def __init__(self, job_id: int | None, reason: str) -> None:
        self.job_id = job_id
        self.reason = reason
        what = f"job {job_id!r}" if job_id is not None else "the job"
        super().__init__(f"{what} failed: {reason}")


class MintPending(AssetError):
    """The minter's earlier transactions are still unmined: minting now could
    mint the same content twice, so nothing is sent; retry once they are mined."""

    def __init__(self, account: str, pending: int, timeout: float) -> None:
        self.account = account
        self.pending = pending
        self.timeout = timeout
        super().__init__(
            f"{account!r} has {pending!r} transaction(s) still unmined after {timeout!r} s; "
            "nothing was minted, retry once they are mined"
        )
