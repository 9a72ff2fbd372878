"""troika.assets: datasets and AI models as ERC-721 tokens.

Not built yet: the Python API of the asset registry, typed metadata,
encrypted content, licences and royalties land here (see the project's asset
issue). The ``AssetRegistry`` contract itself ships already, compiled in
``troika/contracts/``.
"""

__all__: list[str] = []
