"""troika.ipfs: content addressing (CIDs identical to Kubo's) and IPFS nodes.

Example:
    >>> from troika.ipfs import KuboClient
    >>> with KuboClient(api_url) as ipfs:
    ...     ipfs.add(b"hello\\n")
    'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'
"""

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
    cid_of,
    import_bytes,
    import_path,
    import_stream,
)
from troika.ipfs._kubo import DEFAULT_API_URL, DEFAULT_TIMEOUT, AsyncKuboClient, KuboClient
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
    "DEFAULT_TIMEOUT",
    "MAX_CHUNK_SIZE",
    "PROFILES",
    "AsyncBlockStore",
    "AsyncGateway",
    "AsyncKuboClient",
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
    "LocalStore",
    "Multihash",
    "Pin",
    "PinRequestLike",
    "PinState",
    "PinStatus",
    "PinningService",
    "PinningStore",
    "TextMatch",
    "car_of",
    "cid_of",
    "export_bytes",
    "export_file",
    "export_path",
    "import_bytes",
    "import_path",
    "import_stream",
    "read_car",
    "write_car",
]
