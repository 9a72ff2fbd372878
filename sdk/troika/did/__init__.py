"""troika.did: decentralized identifiers for people, devices and AI agents.

Not built yet: did:key, did:pkh, did:ethr (ERC-1056) and did:web, one
resolver and a resolver service land here (see the project's DID issue).
"""

__all__: list[str] = []
