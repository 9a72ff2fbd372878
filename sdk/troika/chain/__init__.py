"""troika.chain: one way to reach any EVM chain.

The in-process EVM (:meth:`Chain.embedded`) is the default; :meth:`Chain.connect`
reaches any JSON-RPC node; :class:`AsyncChain` is the asyncio twin. Keys live
encrypted in a :class:`Keystore`; transactions get EIP-1559 fees, managed
nonces, bounded receipt waits, and reverts decoded into
:class:`~troika.ContractReverted` naming the custom error.
"""

from troika.chain._artifacts import Artifact, ArtifactStore, load_artifact
from troika.chain._async_chain import AsyncChain, AsyncContract
from troika.chain._chain import Chain, Contract
from troika.chain._core import EMBEDDED_URL, Sender
from troika.chain._deployments import Deployment, Deployments
from troika.chain._keystore import GETH_SCRYPT_N, KeyInfo, Keystore, Signer
from troika.chain._nonce import AsyncNonceManager, NonceManager
from troika.chain._revert import decode_revert
from troika.chain._types import BlockHeader, Event, Log, Receipt

__all__ = [
    "EMBEDDED_URL",
    "GETH_SCRYPT_N",
    "Artifact",
    "ArtifactStore",
    "AsyncChain",
    "AsyncContract",
    "AsyncNonceManager",
    "BlockHeader",
    "Chain",
    "Contract",
    "Deployment",
    "Deployments",
    "Event",
    "KeyInfo",
    "Keystore",
    "Log",
    "NonceManager",
    "Receipt",
    "Sender",
    "Signer",
    "decode_revert",
    "load_artifact",
]
