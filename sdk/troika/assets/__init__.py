"""troika.assets: datasets and AI models as ERC-721 tokens.

Not built yet: the asset registry, typed metadata, encrypted content,
licences and royalties land here (see the project's asset issue).
"""

__all__: list[str] = []
