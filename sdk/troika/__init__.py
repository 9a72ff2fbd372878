"""troika: the Python SDK for the data economy on EVM chains.

``import troika`` is cheap: the layers (``troika.chain``, ``troika.ipfs``,
``troika.did``, ``troika.assets``, ``troika.compute``) load web3, httpx and
the rest only when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from troika._errors import (
    ArtifactNotFound,
    AssetError,
    BlockNotFound,
    CARError,
    ChainError,
    ChainIdMismatch,
    ComputeError,
    ConfigError,
    ContentTooLarge,
    ContractReverted,
    CorruptStore,
    DeploymentNotFound,
    DIDError,
    DIDNotFound,
    DIDResolutionError,
    IncompleteDAG,
    InvalidCID,
    InvalidContractCall,
    InvalidDID,
    InvalidKeyName,
    InvalidPublicKey,
    InvalidSIWEMessage,
    IPFSError,
    IPFSRequestError,
    IPFSUnavailable,
    KeyExists,
    KeyNotFound,
    KeystoreError,
    KuboAPIError,
    MethodNotSupported,
    NotAFile,
    PathError,
    PathNotFound,
    PathUnreadable,
    PinFailed,
    PinningServiceError,
    PinTimeout,
    RPCError,
    RPCUnavailable,
    SIWEChainMismatch,
    SIWEDIDMismatch,
    SIWEDomainMismatch,
    SIWEError,
    SIWEExpired,
    SIWENonceMismatch,
    SIWENotYetValid,
    SIWESignatureError,
    SymlinkLoop,
    TransactionError,
    TransactionRejected,
    TransactionTimeout,
    TroikaError,
    UnreadableBlock,
    VerificationError,
    WrongPassword,
)
from troika._version import __version__

if TYPE_CHECKING:
    from troika import assets, chain, cli, compute, did, ipfs
    from troika._config import Settings, load_settings

__all__ = [
    "ArtifactNotFound",
    "AssetError",
    "BlockNotFound",
    "CARError",
    "ChainError",
    "ChainIdMismatch",
    "ComputeError",
    "ConfigError",
    "ContentTooLarge",
    "ContractReverted",
    "CorruptStore",
    "DIDError",
    "DIDNotFound",
    "DIDResolutionError",
    "DeploymentNotFound",
    "IPFSError",
    "IPFSRequestError",
    "IPFSUnavailable",
    "IncompleteDAG",
    "InvalidCID",
    "InvalidContractCall",
    "InvalidDID",
    "InvalidKeyName",
    "InvalidPublicKey",
    "InvalidSIWEMessage",
    "KeyExists",
    "KeyNotFound",
    "KeystoreError",
    "KuboAPIError",
    "MethodNotSupported",
    "NotAFile",
    "PathError",
    "PathNotFound",
    "PathUnreadable",
    "PinFailed",
    "PinTimeout",
    "PinningServiceError",
    "RPCError",
    "RPCUnavailable",
    "SIWEChainMismatch",
    "SIWEDIDMismatch",
    "SIWEDomainMismatch",
    "SIWEError",
    "SIWEExpired",
    "SIWENonceMismatch",
    "SIWENotYetValid",
    "SIWESignatureError",
    "Settings",
    "SymlinkLoop",
    "TransactionError",
    "TransactionRejected",
    "TransactionTimeout",
    "TroikaError",
    "UnreadableBlock",
    "VerificationError",
    "WrongPassword",
    "__version__",
    "assets",
    "chain",
    "cli",
    "compute",
    "did",
    "ipfs",
    "load_settings",
]

_LAYERS = frozenset({"assets", "chain", "cli", "compute", "did", "ipfs"})


def __getattr__(name: str) -> Any:
    # Layers (and pydantic-settings) load on first use: `import troika` stays fast.
    if name in _LAYERS:
        return importlib.import_module(f"troika.{name}")
    if name in ("Settings", "load_settings"):
        return getattr(importlib.import_module("troika._config"), name)
    raise AttributeError(f"module 'troika' has no attribute {name!r}")
