"""troika.assets: datasets and AI models as ERC-721 tokens.

Content is pinned on IPFS (encrypted to its owner's DID key where it must be
private), described by typed metadata whose sha2-256 digest each token
commits to on chain, licensed to others, and earning royalties.

Example:
    >>> from troika.assets import DatasetMetadata, DatasetProperties
    >>> metadata = DatasetMetadata(name="rows", properties=DatasetProperties(media_type="text/csv"))
    >>> metadata.properties.kind
    'dataset'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from troika.assets._assets import (
        DEFAULT_BATCH_SIZE,
        Asset,
        Assets,
        MintedAsset,
        MintProgress,
        MintRequest,
        Party,
    )
    from troika.assets._async import (
        AsyncAssetRegistry,
        AsyncAssets,
    )
    from troika.assets._crypto import (
        CIPHER,
        DEFAULT_SEGMENT_SIZE,
        HPKE_SUITE,
        MAX_SEGMENT_SIZE,
        EncryptingReader,
        Envelope,
        WrappedKey,
        ciphertext_size,
        decrypt_bytes,
        decrypt_stream,
        decrypt_to,
        encrypt_bytes,
        key_agreement_key,
        new_content_key,
    )
    from troika.assets._metadata import (
        METADATA_MEDIA_TYPE,
        AssetMetadata,
        AssetProperties,
        Attribute,
        DatasetMetadata,
        DatasetProperties,
        Encryption,
        Feature,
        ModelMetadata,
        ModelProperties,
        metadata_json_schema,
        parse_metadata,
    )
    from troika.assets._registry import (
        MAX_BATCH,
        REGISTRY_CONTRACT,
        AssetKind,
        AssetRegistry,
        BatchInfo,
        MintedBatch,
        commitment_cid,
    )

__all__ = [
    "CIPHER",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SEGMENT_SIZE",
    "HPKE_SUITE",
    "MAX_BATCH",
    "MAX_SEGMENT_SIZE",
    "METADATA_MEDIA_TYPE",
    "REGISTRY_CONTRACT",
    "Asset",
    "AssetKind",
    "AssetMetadata",
    "AssetProperties",
    "AssetRegistry",
    "Assets",
    "AsyncAssetRegistry",
    "AsyncAssets",
    "Attribute",
    "BatchInfo",
    "DatasetMetadata",
    "DatasetProperties",
    "EncryptingReader",
    "Encryption",
    "Envelope",
    "Feature",
    "MintProgress",
    "MintRequest",
    "MintedAsset",
    "MintedBatch",
    "ModelMetadata",
    "ModelProperties",
    "Party",
    "WrappedKey",
    "ciphertext_size",
    "commitment_cid",
    "decrypt_bytes",
    "decrypt_stream",
    "decrypt_to",
    "encrypt_bytes",
    "key_agreement_key",
    "metadata_json_schema",
    "new_content_key",
    "parse_metadata",
]

# Where each public name lives: loaded on first use, so that the metadata
# models stay cheap to import and web3 loads only with the registry.
_HOMES = {
    "AsyncAssets": "_async",
    "AsyncAssetRegistry": "_async",
    "AssetProperties": "_metadata",
    "MAX_SEGMENT_SIZE": "_crypto",
    "HPKE_SUITE": "_crypto",
    "CIPHER": "_crypto",
    "DEFAULT_BATCH_SIZE": "_assets",
    "DEFAULT_SEGMENT_SIZE": "_crypto",
    "MAX_BATCH": "_registry",
    "METADATA_MEDIA_TYPE": "_metadata",
    "REGISTRY_CONTRACT": "_registry",
    "Asset": "_assets",
    "AssetKind": "_registry",
    "AssetMetadata": "_metadata",
    "AssetRegistry": "_registry",
    "Assets": "_assets",
    "Attribute": "_metadata",
    "BatchInfo": "_registry",
    "DatasetMetadata": "_metadata",
    "DatasetProperties": "_metadata",
    "EncryptingReader": "_crypto",
    "Encryption": "_metadata",
    "Envelope": "_crypto",
    "Feature": "_metadata",
    "MintProgress": "_assets",
    "MintRequest": "_assets",
    "MintedAsset": "_assets",
    "MintedBatch": "_registry",
    "ModelMetadata": "_metadata",
    "ModelProperties": "_metadata",
    "Party": "_assets",
    "WrappedKey": "_crypto",
    "ciphertext_size": "_crypto",
    "commitment_cid": "_registry",
    "decrypt_bytes": "_crypto",
    "decrypt_stream": "_crypto",
    "decrypt_to": "_crypto",
    "encrypt_bytes": "_crypto",
    "key_agreement_key": "_crypto",
    "metadata_json_schema": "_metadata",
    "new_content_key": "_crypto",
    "parse_metadata": "_metadata",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'troika.assets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"troika.assets.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
