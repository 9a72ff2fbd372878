"""troika.ipfs: content addressing (CIDs identical to Kubo's) and IPFS nodes.

Example:
    >>> from troika.ipfs import KuboClient
    >>> with KuboClient(api_url) as ipfs:
    ...     ipfs.add(b"hello\\n")
    'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from troika.ipfs._car import (
        DEFAULT_MAX_BLOCK_SIZE,
        DEFAULT_MAX_HEADER_SIZE,
        Block,
        CARReader,
        CARWriter,
        read_car,
        write_car,
    )
    from troika.ipfs._cid import CID, CIDLike
    from troika.ipfs._content import aadd, add, aget, default_store, get, get_to
    from troika.ipfs._exporter import (
        DEFAULT_MAX_DEPTH,
        BlockSource,
        export_bytes,
        export_file,
        export_path,
    )
    from troika.ipfs._gateway import DEFAULT_GATEWAY_URL, AsyncGateway, DAGScope, Gateway
    from troika.ipfs._importer import (
        MAX_CHUNK_SIZE,
        PROFILES,
        ImportProfile,
        ImportSource,
        ReadableStream,
        cid_of,
        import_bytes,
        import_path,
        import_source,
        import_stream,
    )
    from troika.ipfs._kubo import DEFAULT_API_URL, DEFAULT_TIMEOUT, AsyncKuboClient, KuboClient
    from troika.ipfs._kubo_store import DEFAULT_RETRIES, AsyncKuboStore, KuboStore, Progress
    from troika.ipfs._multiformats import Multihash
    from troika.ipfs._pinning import (
        DEFAULT_PIN_WAIT,
        AsyncPinningService,
        Pin,
        PinningService,
        PinRequestLike,
        PinState,
        PinStatus,
        TextMatch,
    )
    from troika.ipfs._store import (
        AsyncBlockStore,
        AsyncLocalStore,
        AsyncPinningStore,
        BlockStore,
        LocalStore,
        PinningStore,
        car_file,
        car_of,
    )

__all__ = [
    "CID",
    "DEFAULT_API_URL",
    "DEFAULT_GATEWAY_URL",
    "DEFAULT_MAX_BLOCK_SIZE",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_HEADER_SIZE",
    "DEFAULT_PIN_WAIT",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "MAX_CHUNK_SIZE",
    "PROFILES",
    "AsyncBlockStore",
    "AsyncGateway",
    "AsyncKuboClient",
    "AsyncKuboStore",
    "AsyncLocalStore",
    "AsyncPinningService",
    "AsyncPinningStore",
    "Block",
    "BlockSource",
    "BlockStore",
    "CARReader",
    "CARWriter",
    "CIDLike",
    "DAGScope",
    "Gateway",
    "ImportProfile",
    "ImportSource",
    "KuboClient",
    "KuboStore",
    "LocalStore",
    "Multihash",
    "Pin",
    "PinRequestLike",
    "PinState",
    "PinStatus",
    "PinningService",
    "PinningStore",
    "Progress",
    "ReadableStream",
    "TextMatch",
    "aadd",
    "add",
    "aget",
    "car_file",
    "car_of",
    "cid_of",
    "default_store",
    "export_bytes",
    "export_file",
    "export_path",
    "get",
    "get_to",
    "import_bytes",
    "import_path",
    "import_source",
    "import_stream",
    "read_car",
    "write_car",
]

# Where each public name lives: loaded on first use, so that importing
# troika.ipfs (or a module that needs only its multiformats) stays cheap.
_HOMES = {
    "AsyncBlockStore": "_store",
    "AsyncGateway": "_gateway",
    "AsyncKuboClient": "_kubo",
    "AsyncKuboStore": "_kubo_store",
    "AsyncLocalStore": "_store",
    "AsyncPinningService": "_pinning",
    "AsyncPinningStore": "_store",
    "Block": "_car",
    "BlockSource": "_exporter",
    "BlockStore": "_store",
    "CARReader": "_car",
    "CARWriter": "_car",
    "CID": "_cid",
    "CIDLike": "_cid",
    "DAGScope": "_gateway",
    "DEFAULT_API_URL": "_kubo",
    "DEFAULT_GATEWAY_URL": "_gateway",
    "DEFAULT_MAX_BLOCK_SIZE": "_car",
    "DEFAULT_MAX_DEPTH": "_exporter",
    "DEFAULT_MAX_HEADER_SIZE": "_car",
    "DEFAULT_PIN_WAIT": "_pinning",
    "DEFAULT_RETRIES": "_kubo_store",
    "DEFAULT_TIMEOUT": "_kubo",
    "Gateway": "_gateway",
    "ImportProfile": "_importer",
    "ImportSource": "_importer",
    "KuboClient": "_kubo",
    "KuboStore": "_kubo_store",
    "LocalStore": "_store",
    "MAX_CHUNK_SIZE": "_importer",
    "Multihash": "_multiformats",
    "PROFILES": "_importer",
    "Pin": "_pinning",
    "PinRequestLike": "_pinning",
    "PinState": "_pinning",
    "PinStatus": "_pinning",
    "PinningService": "_pinning",
    "PinningStore": "_store",
    "Progress": "_kubo_store",
    "ReadableStream": "_importer",
    "TextMatch": "_pinning",
    "aadd": "_content",
    "add": "_content",
    "aget": "_content",
    "car_file": "_store",
    "car_of": "_store",
    "cid_of": "_importer",
    "default_store": "_content",
    "export_bytes": "_exporter",
    "export_file": "_exporter",
    "export_path": "_exporter",
    "get": "_content",
    "get_to": "_content",
    "import_bytes": "_importer",
    "import_path": "_importer",
    "import_source": "_importer",
    "import_stream": "_importer",
    "read_car": "_car",
    "write_car": "_car",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'troika.ipfs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"troika.ipfs.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
