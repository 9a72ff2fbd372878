"""troika.ipfs: content addressing (CIDs identical to Kubo's) and IPFS nodes.

Example:
    >>> from troika.ipfs import KuboClient
    >>> with KuboClient(api_url) as ipfs:
    ...     ipfs.add(b"hello\\n")
    'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
"""

from troika.ipfs._cid import CID, CIDLike
from troika.ipfs._kubo import DEFAULT_API_URL, DEFAULT_TIMEOUT, AsyncKuboClient, KuboClient
from troika.ipfs._multiformats import Multihash

__all__ = [
    "CID",
    "DEFAULT_API_URL",
    "DEFAULT_TIMEOUT",
    "AsyncKuboClient",
    "CIDLike",
    "KuboClient",
    "Multihash",
]
