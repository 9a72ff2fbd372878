"""Storing and fetching content on IPFS through a Kubo node's RPC API.

Example:
    >>> from troika.ipfs import KuboClient
    >>> with KuboClient(api_url) as ipfs:
    ...     ipfs.add(b"hello\\n")
    'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
"""

from troika.ipfs._kubo import DEFAULT_API_URL, DEFAULT_TIMEOUT, AsyncKuboClient, KuboClient

__all__ = ["DEFAULT_API_URL", "DEFAULT_TIMEOUT", "AsyncKuboClient", "KuboClient"]
