"""did:ethr (the ethr DID method on ERC-1056 registries), resolved as the
reference resolver (npm ``ethr-did-resolver`` 11) resolves it.

``did:ethr:[<network>:]<0x address | 0x compressed secp256k1 key>`` names an
Ethereum account on one network (``mainnet`` when none is written; a name,
or the chain id in hex such as ``0x7a69``). Its document is built by
replaying the identity's ``EthereumDIDRegistry`` events, oldest first:

- ``DIDOwnerChanged``: the ``#controller`` (an ``EcdsaSecp256k1RecoveryMethod2020``
  whose ``blockchainAccountId`` is ``eip155:<chain id>:<owner>``); owner
  ``0x0`` deactivates the DID for good;
- ``DIDDelegateChanged``: ``veriKey`` delegates become ``#delegate-N`` methods
  in ``assertionMethod``, ``sigAuth`` ones in ``authentication`` too;
- ``DIDAttributeChanged``: ``did/pub/<algorithm>/<purpose>/<encoding>`` keys
  (``enc`` purposes go to ``keyAgreement``) and ``did/svc/<type>`` services
  (``#service-N``; a JSON value is the endpoint).

Delegates and attributes count while their ``validTo`` is later than the
time of the version resolved: the latest block's timestamp, or the
``versionId`` block's (``versionTime`` itself for a ``versionTime``). The
replay (:func:`ethr_document`) does no I/O; :class:`EthrResolver` and
:class:`AsyncEthrResolver` read the history and the block times.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeAlias

from troika._closing import AsyncClosing, Closing
from troika._errors import (
    ChainError,
    ChainIdMismatch,
    ConfigError,
    DIDError,
    DIDNotFound,
    DIDResolutionError,
    InvalidDID,
)
from troika._json import loads
from troika.did._did import DID, DIDLike
from troika.did._document import (
    DID_CONTEXT,
    DIDDocument,
    DocumentMetadata,
    ResolutionResult,
    Service,
    VerificationMethod,
)
from troika.did._pkh import is_checksum_address, to_checksum_address
from troika.did._registry import (
    MAX_HISTORY,
    AsyncEthrRegistry,
    AttributeChanged,
    DelegateChanged,
    EthrRegistry,
    OwnerChanged,
    RegistryEvent,
)
from troika.ipfs._multiformats import base58btc_encode

if TYPE_CHECKING:  # the chain layer loads web3: only when a network is used
    from troika._config import Settings
    from troika.chain import AsyncChain, Chain

__all__ = [
    "ETHR_CONTEXT",
    "NETWORK_CHAIN_IDS",
    "AsyncEthrResolver",
    "EthrDID",
    "EthrDocumentVersion",
    "EthrNetwork",
    "EthrResolver",
    "ethr_did",
    "ethr_document",
]

#: The ``@context`` of every did:ethr document, as the reference resolver writes it.
ETHR_CONTEXT: tuple[str, ...] = (
    DID_CONTEXT,
    # EcdsaSecp256k1RecoveryMethod2020 and blockchainAccountId
    "https://w3id.org/security/suites/secp256k1recovery-2020/v2",
    # publicKeyHex and EcdsaSecp256k1VerificationKey2019
    "https://w3id.org/security/v3-unstable",
)

#: The network names the reference resolver knows, by chain id (its deployments list):
#: ``did:ethr:<name>:...`` and ``did:ethr:<hex chain id>:...`` name the same network.
NETWORK_CHAIN_IDS: Mapping[str, int] = MappingProxyType(
    {
        "mainnet": 1,
        "sepolia": 11155111,
        "gno": 100,
        "holesky": 17000,
        "ewc": 246,
        "volta": 73799,
        "artis:tau1": 246785,
        "artis:sigma1": 246529,
        "polygon": 137,
        "polygon:test": 80001,
        "aurora": 1313161554,
        "linea:goerli": 59140,
    }
)
_NAMES_BY_CHAIN_ID = {chain_id: name for name, chain_id in NETWORK_CHAIN_IDS.items()}

_RECOVERY_METHOD = "EcdsaSecp256k1RecoveryMethod2020"
_VERIFICATION_KEY = "EcdsaSecp256k1VerificationKey2019"
_NULL_ADDRESS = "0x" + "0" * 40
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_PUBLIC_KEY = re.compile(r"0x[0-9a-fA-F]{66}")
_HEX_CHAIN_ID = re.compile(r"0x[0-9a-fA-F]+")
_NETWORK_NAME = re.compile(
    r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+(?::(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+)*"
)
_BLOCK_NUMBER = re.compile(r"[0-9]+")
# The attribute names the reference reads; \w as JavaScript's (ASCII), no trailing newline.
_ATTRIBUTE = re.compile(r"did/(pub|svc)/(\w+)(?:/(\w+))?(?:/(\w+))?", re.ASCII)
# The reference's legacyAttrTypes and legacyAlgoMap: <algorithm><purpose type> -> method type.
_PURPOSE_TYPES = {
    "sigAuth": "SignatureAuthentication2018",
    "veriKey": "VerificationKey2018",
    "enc": "KeyAgreementKey2019",
}
_METHOD_TYPES = {
    "Secp256k1VerificationKey2018": _VERIFICATION_KEY,
    "Ed25519SignatureAuthentication2018": "Ed25519VerificationKey2018",
    "Secp256k1SignatureAuthentication2018": _VERIFICATION_KEY,
    "RSAVerificationKey2018": "RSAVerificationKey2018",
    "Ed25519VerificationKey2018": "Ed25519VerificationKey2018",
    "X25519KeyAgreementKey2019": "X25519KeyAgreementKey2019",
}


# -- DIDs ------------------------------------------------------------------------------


def _address_of_public_key(did: str, key_hex: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from eth_hash.auto import keccak

    raw = bytes.fromhex(key_hex[2:])
    if raw[0] not in (2, 3):
        raise InvalidDID(did, "a did:ethr public key is a compressed secp256k1 key: 0x02 or 0x03")
    try:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), raw)
    except ValueError as exc:
        raise InvalidDID(did, f"{key_hex!r} is not a point of secp256k1") from exc
    uncompressed = point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return to_checksum_address("0x" + keccak(uncompressed[1:])[-20:].hex())


@dataclass(frozen=True, slots=True)
class EthrDID:
    """A parsed did:ethr: its network, its account, and its public key if it names one.

    ``network`` is as written, or None (mainnet); ``address`` is the
    identity's EIP-55 address (of the public key, for the public-key form).

    Example:
        >>> did = EthrDID.parse("did:ethr:0x7a69:0xb9c5714089478a327f09197987f16f9e5d936e8a")
        >>> did.network, did.chain_id, did.address
        ('0x7a69', 31337, '0xB9C5714089478a327F09197987f16f9E5d936E8a')
        >>> key = "0x0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        >>> EthrDID.parse(f"did:ethr:{key}").address
        '0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf'
        >>> EthrDID.parse("did:ethr:mainnet:0x12")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        troika._errors.InvalidDID: invalid DID 'did:ethr:mainnet:0x12': '0x12' is not an address...
    """

    did: DID
    network: str | None
    address: str
    public_key: str | None = None

    @classmethod
    def parse(cls, did: DIDLike) -> EthrDID:
        """Parse a did:ethr.

        Raises:
            InvalidDID: not a did:ethr, an empty network, not an address or
                compressed public key, a mixed-case address whose EIP-55
                checksum fails, or a key that is not a point of secp256k1.
        """
        parsed = DID.parse(did)
        shown = str(parsed)
        if parsed.method != "ethr":
            raise InvalidDID(shown, "not a did:ethr")
        network, _, identifier = parsed.method_specific_id.rpartition(":")
        if _PUBLIC_KEY.fullmatch(identifier):
            address = _address_of_public_key(shown, identifier)
            public_key: str | None = identifier
        elif _ADDRESS.fullmatch(identifier):
            if not is_checksum_address(identifier):
                raise InvalidDID(shown, f"{identifier!r} mixes case but fails its EIP-55 checksum")
            address, public_key = to_checksum_address(identifier), None
        else:
            raise InvalidDID(
                shown,
                f"{identifier!r} is not an address (0x and 40 hex digits) or a compressed "
                "public key (0x and 66)",
            )
        if ":" in parsed.method_specific_id and not network:
            raise InvalidDID(shown, "the network before the last ':' is empty")
        return cls(parsed, network or None, address, public_key)

    @property
    def network_name(self) -> str:
        """The network, ``"mainnet"`` when the DID names none."""
        return self.network or "mainnet"

    @property
    def chain_id(self) -> int | None:
        """The chain id the network names: its hex, or a known name's; else None."""
        return _chain_id_of(self.network_name)

    def __str__(self) -> str:
        return str(self.did)


def _chain_id_of(network: str) -> int | None:
    if _HEX_CHAIN_ID.fullmatch(network):
        return int(network, 16)
    return NETWORK_CHAIN_IDS.get(network)


def ethr_did(account: str, network: str | int | None = None) -> DID:
    """The did:ethr of an address or compressed secp256k1 public key.

    ``network`` is a name (``"sepolia"``), a chain id (written in hex, as the
    method wants), or None for mainnet.

    Raises:
        InvalidDID: not an address or compressed public key, or not a network.

    Example:
        >>> str(ethr_did("0xb9c5714089478a327f09197987f16f9e5d936e8a", 31337))
        'did:ethr:0x7a69:0xB9C5714089478a327F09197987f16f9E5d936E8a'
    """
    if isinstance(network, bool):
        raise InvalidDID(network, "a network is a name or a chain id")
    if isinstance(network, int):
        if network < 1:
            raise InvalidDID(network, "a chain id is a positive integer")
        network = hex(network)
    if isinstance(account, str) and _ADDRESS.fullmatch(account) and is_checksum_address(account):
        account = to_checksum_address(account)
    text = f"did:ethr:{account}" if network is None else f"did:ethr:{network}:{account}"
    return EthrDID.parse(text).did


# -- the replay (no I/O) ----------------------------------------------------------------


@dataclass(frozen=True)
class EthrDocumentVersion:
    """One version of a did:ethr document, as the replay of its history gives it.

    ``version_id`` is the block of the latest change included (None: no
    change yet); ``next_version_id`` the block of the first change after
    the version asked for (None for the latest version).
    """

    document: DIDDocument
    deactivated: bool
    version_id: int | None
    next_version_id: int | None


def _text(raw: bytes) -> str | None:
    # The reference reads bytes32 as strict UTF-8 without trailing NULs, and
    # skips events whose names are not UTF-8 (they are not did:ethr changes).
    try:
        return raw.decode("utf-8").rstrip("\0")
    except UnicodeDecodeError:
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _endpoint(text: str) -> str | dict[str, Any] | tuple[Any, ...]:
    """A service value: JSON when it parses to what DID Core allows, else the text."""
    try:
        value = loads(text, parse_constant=_reject_constant)  # troika._json: nesting bounded
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # no lone surrogates
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        return text
    if isinstance(value, str | dict):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str | dict) for v in value):
        return tuple(value)
    return text


@dataclass
class _Replay:
    did: str
    chain_id: int
    delegate_count: int = 0
    service_count: int = 0
    # Keyed as the reference keys them; a dict keeps JavaScript's insertion order.
    authentication: dict[str, str] = field(default_factory=dict)
    assertion: dict[str, str] = field(default_factory=dict)
    key_agreement: dict[str, str] = field(default_factory=dict)
    methods: dict[str, VerificationMethod] = field(default_factory=dict)
    service: dict[str, Service] = field(default_factory=dict)

    def delegate(self, key: str, kind: str, delegate: str) -> None:
        self.delegate_count += 1
        if kind not in ("veriKey", "sigAuth"):
            return
        method_id = f"{self.did}#delegate-{self.delegate_count}"
        if kind == "sigAuth":
            self.authentication[key] = method_id
        self.methods[key] = VerificationMethod(
            id=method_id,
            type=_RECOVERY_METHOD,
            controller=self.did,
            blockchain_account_id=f"eip155:{self.chain_id}:{delegate}",
        )
        self.assertion[key] = method_id

    def public_key(self, key: str, match: re.Match[str], value: bytes) -> None:
        self.delegate_count += 1
        algorithm, purpose, encoding = match.group(2), match.group(3), match.group(4)
        suffix = _PURPOSE_TYPES.get(purpose or "", purpose or "undefined")
        method_type = _METHOD_TYPES.get(f"{algorithm}{suffix}", algorithm)
        fields = {"id": f"{self.did}#delegate-{self.delegate_count}", "type": method_type}
        fields["controller"] = self.did
        if encoding in (None, "hex"):
            fields["publicKeyHex"] = value.hex()
        elif encoding == "base64":
            fields["publicKeyBase64"] = base64.b64encode(value).decode("ascii")
        elif encoding == "base58":
            fields["publicKeyBase58"] = base58btc_encode(value)
        elif encoding == "pem":
            pem = _text_or_none(value)
            if pem is None:
                return  # not UTF-8: not a key the DID document can show
            fields["publicKeyPem"] = pem
        else:  # an encoding the reference does not know: the hex, as "value"
            fields["value"] = value.hex()
        method = VerificationMethod.model_validate(fields)
        self.methods[key] = method
        if purpose == "sigAuth":
            self.authentication[key] = method.id
            self.assertion[key] = method.id
        elif purpose == "enc":
            self.key_agreement[key] = method.id
        else:
            self.assertion[key] = method.id

    def add_service(self, key: str, kind: str, value: bytes) -> None:
        self.service_count += 1
        text = _text_or_none(value)
        if text is None:
            return
        self.service[key] = Service(
            id=f"{self.did}#service-{self.service_count}",
            type=kind,
            service_endpoint=_endpoint(text),
        )

    def remove(self, key: str) -> None:
        # The reference leaves keyAgreement alone here, which leaves a reference to a
        # removed key behind; troika removes it with the key.
        for entries in (
            self.authentication,
            self.assertion,
            self.key_agreement,
            self.methods,
            self.service,
        ):
            entries.pop(key, None)


def _text_or_none(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def ethr_document(
    did: DIDLike | EthrDID,
    history: Iterable[RegistryEvent],
    *,
    chain_id: int,
    now: int,
    at_block: int | None = None,
) -> EthrDocumentVersion:
    """Replay a did:ethr's registry history into its document; no I/O.

    Args:
        did: the DID (its network is not checked against ``chain_id``).
        history: the identity's registry events, oldest first
            (:meth:`EthrRegistry.history`).
        chain_id: the chain's id, for the CAIP-10 ``blockchainAccountId``.
        now: the Unix time that delegates and attributes must outlive (the
            latest block's timestamp, or the version's).
        at_block: resolve the version at this block: later events only give
            ``next_version_id``. None: the latest version.

    Example:
        >>> from troika.did._registry import DelegateChanged, bytes32
        >>> me = "0xB9C5714089478a327F09197987f16f9E5d936E8a"
        >>> him = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        >>> added = DelegateChanged(
        ...     me, bytes32("sigAuth"), him, 2_000,
        ...     previous_change=0, block_number=7, tx_hash="0x00", log_index=0,
        ... )
        >>> version = ethr_document(f"did:ethr:{me}", [added], chain_id=1, now=1_000)
        >>> version.document.authentication[-1], version.version_id
        ('did:ethr:0xB9C5714089478a327F09197987f16f9E5d936E8a#delegate-1', 7)
        >>> ethr_document(f"did:ethr:{me}", [added], chain_id=1, now=2_000).document.authentication
        ('did:ethr:0xB9C5714089478a327F09197987f16f9E5d936E8a#controller',)
    """
    parsed = did if isinstance(did, EthrDID) else EthrDID.parse(did)
    shown = str(parsed.did)
    replay = _Replay(shown, chain_id)
    controller = parsed.address
    version_id = 0
    next_version_id: int | None = None
    deactivated = False
    for event in history:
        kind: str | None = None
        if isinstance(event, DelegateChanged | AttributeChanged):
            kind = _text(event.delegate_type if isinstance(event, DelegateChanged) else event.name)
            if kind is None:
                continue
        if at_block is not None and event.block_number > at_block:
            if next_version_id is None or event.block_number < next_version_id:
                next_version_id = event.block_number
            continue
        version_id = max(version_id, event.block_number)
        if isinstance(event, OwnerChanged):
            controller = to_checksum_address(event.owner)
            if controller == _NULL_ADDRESS:
                deactivated = True
                break
            continue
        assert kind is not None
        valid = event.valid_to > now  # as the registry's validDelegate: strictly later
        if isinstance(event, DelegateChanged):
            key = f"DIDDelegateChanged-{kind or 'undefined'}-{event.delegate}"
            if valid:
                replay.delegate(key, kind, event.delegate)
            else:
                replay.delegate_count += 1
                replay.remove(key)
            continue
        key = f"DIDAttributeChanged-{kind}-0x{event.value.hex()}"
        match = _ATTRIBUTE.fullmatch(kind)
        if not valid:
            if kind.startswith("did/pub/"):
                replay.delegate_count += 1
            elif kind.startswith("did/svc/"):
                replay.service_count += 1
            replay.remove(key)
        elif match is not None and match.group(1) == "pub":
            replay.public_key(key, match, event.value)
        elif match is not None:
            replay.add_service(key, match.group(2), event.value)
    document = _assemble(parsed, replay, controller, deactivated)
    return EthrDocumentVersion(document, deactivated, version_id or None, next_version_id)


def _assemble(parsed: EthrDID, replay: _Replay, controller: str, deactivated: bool) -> DIDDocument:
    shown = str(parsed.did)
    if deactivated:
        return DIDDocument(
            context=ETHR_CONTEXT,
            id=shown,
            verification_method=(),
            authentication=(),
            assertion_method=(),
        )
    methods = [
        VerificationMethod(
            id=f"{shown}#controller",
            type=_RECOVERY_METHOD,
            controller=shown,
            blockchain_account_id=f"eip155:{replay.chain_id}:{controller}",
        )
    ]
    own = [methods[0].id]
    if parsed.public_key is not None and controller == parsed.address:
        methods.append(
            VerificationMethod(
                id=f"{shown}#controllerKey",
                type=_VERIFICATION_KEY,
                controller=shown,
                public_key_hex=parsed.public_key[2:],
            )
        )
        own.append(methods[1].id)
    return DIDDocument(
        context=ETHR_CONTEXT,
        id=shown,
        verification_method=(*methods, *replay.methods.values()),
        authentication=(*own, *replay.authentication.values()),
        assertion_method=(*own, *replay.assertion.values()),
        key_agreement=tuple(replay.key_agreement.values()) or None,
        service=tuple(replay.service.values()) or None,
    )


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _metadata(version: EthrDocumentVersion, times: Mapping[int, int]) -> DocumentMetadata:
    fields: dict[str, Any] = {}
    if version.deactivated:
        fields["deactivated"] = True
    if version.version_id is not None:
        fields["version_id"] = str(version.version_id)
        fields["updated"] = _iso(times[version.version_id])
    if version.next_version_id is not None:
        fields["next_version_id"] = str(version.next_version_id)
        fields["next_update"] = _iso(times[version.next_version_id])
    return DocumentMetadata(**fields)


# -- networks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EthrNetwork:
    """Where the DIDs of one network resolve: a chain, and its registry.

    Args:
        chain: a :class:`~troika.chain.Chain` (an :class:`~troika.chain.AsyncChain`
            for :class:`AsyncEthrResolver`), or a JSON-RPC URL that the resolver
            connects to on first use.
        name: the network's name in DIDs (``did:ethr:<name>:...``).
        chain_id: the chain id the node must serve; the network then also
            answers to it in hex (``did:ethr:0x7a69:...``). A known name
            (``mainnet``, ``sepolia``, ``polygon``...) implies its chain id;
            otherwise the chain is asked on first use.
        registry: the ``EthereumDIDRegistry`` address; else troika's recorded
            deployment on that chain, else the canonical one of the chain id.
        from_block: the registry's deployment block, so that one log query
            reads a history (troika knows it for its own deployments).

    Example:
        >>> EthrNetwork("http://127.0.0.1:8545", name="dev", chain_id=31337).answers_to
        ('dev', '0x7a69')
    """

    chain: Chain | AsyncChain | str
    name: str | None = None
    chain_id: int | None = None
    registry: str | None = None
    from_block: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.chain, str) and not self.chain.startswith(("http://", "https://")):
            raise ConfigError("chain", self.chain, "an RPC URL starts with http:// or https://")
        if self.name is not None and (
            not isinstance(self.name, str)
            or not _NETWORK_NAME.fullmatch(self.name)
            or _HEX_CHAIN_ID.fullmatch(self.name)
        ):
            raise ConfigError(
                "name",
                self.name,
                "a network name is letters, digits, '.', '-', '_' and inner ':', and not "
                "0x-hex (a chain id goes in chain_id)",
            )
        if self.chain_id is not None and (
            isinstance(self.chain_id, bool)
            or not isinstance(self.chain_id, int)
            or self.chain_id < 1
        ):
            raise ConfigError("chain_id", self.chain_id, "a chain id is a positive integer")
        if self.registry is not None and not is_checksum_address(self.registry):
            raise ConfigError("registry", self.registry, "not an address with a valid checksum")
        if self.from_block is not None and (
            isinstance(self.from_block, bool)
            or not isinstance(self.from_block, int)
            or self.from_block < 0
        ):
            raise ConfigError("from_block", self.from_block, "a block number is 0 or more")

    @property
    def expected_chain_id(self) -> int | None:
        """``chain_id``, or the chain id of a known ``name``; None if neither says."""
        if self.chain_id is not None:
            return self.chain_id
        return None if self.name is None else NETWORK_CHAIN_IDS.get(self.name)

    @property
    def answers_to(self) -> tuple[str, ...]:
        """The network ids of the DIDs it resolves, as far as known without asking the chain."""
        names = [] if self.name is None else [self.name]
        chain_id = self.expected_chain_id
        if chain_id is not None:
            names.append(hex(chain_id))
            known = _NAMES_BY_CHAIN_ID.get(chain_id)
            if known is not None and known not in names:
                names.append(known)
        return tuple(names)


NetworkLike: TypeAlias = "EthrNetwork | Chain | AsyncChain | str"
"""A network's configuration, or just its chain (or RPC URL)."""
# Any keys, checked when the resolver is made: a mapping literal that mixes names and
# chain ids is a dict[object, ...] to mypy, which Mapping[str | int, ...] would refuse.
Networks: TypeAlias = "Mapping[Any, NetworkLike] | Iterable[EthrNetwork]"
"""Networks by name (str) or chain id (int, or 0x-hex str): ``{"dev": chain, 11155111: url}``;
or a list of :class:`EthrNetwork`."""


def _normalise(networks: Networks) -> list[EthrNetwork]:
    if isinstance(networks, Mapping):
        found = []
        for key, value in networks.items():
            if isinstance(key, bool) or not isinstance(key, str | int):
                raise ConfigError("networks", key, "networks are keyed by name or chain id")
            config = value if isinstance(value, EthrNetwork) else EthrNetwork(value)
            if isinstance(key, str) and not _HEX_CHAIN_ID.fullmatch(key):
                if config.name not in (None, key):
                    raise ConfigError("name", config.name, f"it is configured under {key!r}")
                found.append(replace(config, name=key))
                continue
            chain_id = int(key, 16) if isinstance(key, str) else key
            if config.chain_id not in (None, chain_id):
                raise ConfigError("chain_id", config.chain_id, f"it is configured under {key!r}")
            found.append(replace(config, chain_id=chain_id))
        return found
    found = list(networks)
    for config in found:
        if not isinstance(config, EthrNetwork):
            raise ConfigError("networks", config, "a list of networks holds EthrNetwork values")
    return found


def _same_chain(one: EthrNetwork, other: EthrNetwork) -> bool:
    """True when two configurations (under two names, say) read the same registry."""
    return (one.chain is other.chain or one.chain == other.chain) and (
        one.registry,
        one.from_block,
    ) == (other.registry, other.from_block)


class _Network:
    """A configured network and, once used, its chain id, chain and registry."""

    def __init__(self, config: EthrNetwork) -> None:
        self.config = config
        self.chain_id = config.expected_chain_id
        self.chain: Any = None
        self.registry: Any = None
        self.owned = False  # the resolver connected the chain, so it closes it
        self.lock = threading.Lock()

    @property
    def label(self) -> str:
        if self.config.name is not None:
            return self.config.name
        return hex(self.chain_id) if self.chain_id is not None else repr(self.config.chain)


class _EthrResolverCore:
    """The network table and the steps of a resolution that do no I/O."""

    def __init__(
        self,
        networks: Networks,
        *,
        rpc_timeout: float = 10.0,
        max_events: int = MAX_HISTORY,
        home: Path | None = None,
    ) -> None:
        if not rpc_timeout > 0:
            raise ConfigError("rpc_timeout", rpc_timeout, "seconds for one request, above 0")
        if max_events < 1:
            raise ConfigError("max_events", max_events, "at least one change")
        self.rpc_timeout = rpc_timeout
        self.max_events = max_events
        self.home = home
        self._networks = [_Network(config) for config in _normalise(networks)]
        for network in self._networks:
            if not isinstance(network.config.chain, str):
                self._check_chain(network.config.chain)
        self._by_name: dict[str, _Network] = {}
        self._by_chain_id: dict[int, _Network] = {}
        for network in self._networks:
            name = network.config.name
            if name is not None:
                if name in self._by_name:
                    raise ConfigError("name", name, "two networks have this name")
                self._by_name[name] = network
            if network.chain_id is not None:
                self._index(network, network.chain_id, strict=True)

    def _check_chain(self, chain: object) -> None:
        raise NotImplementedError  # pragma: no cover - each twin takes its own kind of chain

    def _index(self, network: _Network, chain_id: int, *, strict: bool) -> None:
        other = self._by_chain_id.get(chain_id)
        if other is None:
            self._by_chain_id[chain_id] = network
        elif strict and not _same_chain(other.config, network.config):
            raise ConfigError("chain_id", chain_id, "two different networks have this chain id")

    @property
    def networks(self) -> tuple[EthrNetwork, ...]:
        """The networks this resolver knows, as configured."""
        return tuple(network.config for network in self._networks)

    def _find(self, name: str) -> _Network | None:
        network = self._by_name.get(name)
        if network is not None:
            return network
        chain_id = _chain_id_of(name)
        return None if chain_id is None else self._by_chain_id.get(chain_id)

    def _undiscovered(self) -> list[_Network]:
        return [n for n in self._networks if n.chain_id is None]

    def _unknown(self, parsed: EthrDID) -> DIDResolutionError:
        known = sorted({a for n in self._networks for a in self._answers(n)})
        return DIDResolutionError(
            str(parsed.did),
            "unknownNetwork",
            f"no network {parsed.network_name!r} is configured for did:ethr "
            f"(known: {', '.join(known) or 'none'}); configure it with "
            "EthrResolver(networks=...) or TROIKA_RPC_URL",
        )

    @staticmethod
    def _answers(network: _Network) -> tuple[str, ...]:
        answers = list(network.config.answers_to)
        if network.chain_id is not None and hex(network.chain_id) not in answers:
            answers.append(hex(network.chain_id))
        return tuple(answers)

    def _learnt(self, network: _Network, chain_id: int) -> None:
        expected = network.config.expected_chain_id
        if expected is not None and chain_id != expected:
            raise ChainIdMismatch(network.chain.url, expected, chain_id)
        network.chain_id = chain_id
        self._index(network, chain_id, strict=False)


def _version_options(did: str, options: Mapping[str, Any]) -> tuple[int | None, int | None]:
    version_id = options.get("version_id")
    version_time = options.get("version_time")
    if version_id is not None and version_time is not None:
        raise InvalidDID(did, "resolve a versionId or a versionTime, not both")
    block: int | None = None
    if version_id is not None:
        text = str(version_id)
        if isinstance(version_id, bool) or not _BLOCK_NUMBER.fullmatch(text):
            raise InvalidDID(did, f"versionId {version_id!r} is not a block number")
        block = int(text)
    when: int | None = None
    if version_time is not None:
        if isinstance(version_time, datetime):
            moment = version_time
        else:
            try:
                moment = datetime.fromisoformat(str(version_time))
            except ValueError as exc:
                raise InvalidDID(did, f"versionTime {version_time!r} is not a time") from exc
        if moment.tzinfo is None:
            raise InvalidDID(did, f"versionTime {version_time!r} has no time zone (use ...Z)")
        when = int(moment.timestamp())
    return block, when


@contextmanager
def _chain_failures(did: str, network: str) -> Iterator[None]:
    """What the chain layer raises becomes a resolution error naming the network."""
    try:
        yield
    except DIDError:
        raise
    except ChainError as exc:
        raise DIDResolutionError(did, "internalError", f"network {network!r}: {exc}") from exc


def _log_times(history: Sequence[RegistryEvent]) -> dict[int, int]:
    # Block times that the node put in the logs (anvil, geth 1.14+): no request for them.
    return {e.block_number: e.block_timestamp for e in history if e.block_timestamp is not None}


def _cutoff(blocks: Sequence[int], count: int) -> int | None:
    if count == len(blocks):
        return None
    return blocks[count] - 1


class EthrResolver(_EthrResolverCore, Closing):
    """Resolves did:ethr on configured networks; a method resolver for :class:`Resolver`.

    Args:
        networks: by name or chain id, each a chain, an RPC URL or an
            :class:`EthrNetwork`: ``{"dev": chain, 11155111: "https://..."}``;
            or a list of :class:`EthrNetwork`. A DID without a network is
            ``mainnet`` (chain id 1).
        rpc_timeout: seconds for one request to a node the resolver connects to.
        max_events: the longest history one resolution replays.
        home: where the chains it connects to keep their deployments record
            (troika's registry, once deployed there); the settings' home if None.

    Raises:
        ConfigError: a network is misconfigured, or two share a name or chain id.

    Example:
        >>> from troika.chain import Chain
        >>> from troika.did import EthrRegistry, Resolver
        >>> chain = Chain.embedded()
        >>> registry = EthrRegistry.deploy(chain)
        >>> me = chain.dev_signers[1]
        >>> receipt = registry.set_attribute(
        ...     me.address, "did/svc/Hub", b"https://hub.example", 86_400, sender=me
        ... )
        >>> resolver = Resolver()
        >>> resolver.register("ethr", EthrResolver({"dev": chain}))
        >>> result = resolver.resolve(f"did:ethr:dev:{me.address}")
        >>> result.did_document.service[0].service_endpoint
        'https://hub.example'
        >>> result.did_document_metadata.version_id == str(receipt.block_number)
        True
        >>> resolver.resolve(f"did:ethr:sepolia:{me.address}").error
        'unknownNetwork'
    """

    def _check_chain(self, chain: object) -> None:
        from troika.chain import Chain

        if not isinstance(chain, Chain):
            raise ConfigError("chain", chain, "EthrResolver takes a Chain or an RPC URL")

    def close(self) -> None:
        """Close the connections the resolver opened (not the chains it was given)."""
        for network in self._networks:
            with network.lock:
                if network.owned and network.chain is not None:
                    network.chain.close()
                    network.chain, network.registry, network.owned = None, None, False

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> EthrResolver:
        """The node troika's settings name (``rpc_url``), answering to its chain id
        (and its name if it is a known network); no networks when none is set."""
        from troika._config import load_settings

        settings = settings or load_settings()
        if settings.rpc_url is None:
            return cls([], rpc_timeout=settings.rpc_timeout, home=settings.home)
        network = EthrNetwork(settings.rpc_url, chain_id=settings.chain_id)
        return cls([network], rpc_timeout=settings.rpc_timeout, home=settings.home)

    def __call__(self, did: DID, options: Mapping[str, Any]) -> ResolutionResult:
        """Resolve ``did`` (a :data:`MethodResolver`); options ``version_id`` (a
        block number) or ``version_time`` (``YYYY-MM-DDTHH:MM:SSZ``).

        Raises:
            InvalidDID: not a did:ethr, or a bad ``version_id``/``version_time``.
            DIDNotFound: ``version_id`` is a block the chain has not reached.
            DIDResolutionError: ``unknownNetwork``; or ``internalError`` when
                the node cannot be reached, serves another chain, or has no registry.
        """
        parsed = EthrDID.parse(did)
        shown = str(parsed.did)
        at_block, when = _version_options(shown, options)
        network = self._lookup(parsed)
        with _chain_failures(shown, network.label):
            chain, registry = self._open(network)
            history = registry.history(
                parsed.address, from_block=network.config.from_block, max_events=self.max_events
            )
            times = _log_times(history)
            if at_block is not None:
                now = self._time(chain, times, at_block, shown)
            elif when is not None:
                now = when
                blocks = sorted({event.block_number for event in history})
                low, high = 0, len(blocks)
                while low < high:  # bisect on block times: a few reads, not one per change
                    middle = (low + high) // 2
                    if self._time(chain, times, blocks[middle], shown) <= when:
                        low = middle + 1
                    else:
                        high = middle
                at_block = _cutoff(blocks, low)
            else:
                latest = chain.block("latest")
                if latest is None:  # pragma: no cover - every chain has a latest block
                    raise DIDNotFound(shown, "the chain has no latest block")
                now = latest.timestamp
                times[latest.number] = latest.timestamp
            version = ethr_document(
                parsed, history, chain_id=chain.chain_id, now=now, at_block=at_block
            )
            for block in (version.version_id, version.next_version_id):
                if block is not None:
                    self._time(chain, times, block, shown)
        return ResolutionResult.success(
            version.document, document_metadata=_metadata(version, times)
        )

    @staticmethod
    def _time(chain: Chain, times: dict[int, int], number: int, did: str) -> int:
        if number not in times:
            block = chain.block(number)
            if block is None:
                raise DIDNotFound(did, f"block {number} does not exist yet on this chain")
            times[number] = block.timestamp
        return times[number]

    def _lookup(self, parsed: EthrDID) -> _Network:
        name = parsed.network_name
        network = self._find(name)
        failure: DIDResolutionError | None = None
        if network is None and _chain_id_of(name) is not None:
            for candidate in self._undiscovered():  # ask them their chain ids, once
                try:
                    with _chain_failures(str(parsed.did), candidate.label):
                        self._open(candidate)
                except DIDResolutionError as exc:
                    failure = failure or exc
            network = self._find(name)
        if network is None:
            raise failure or self._unknown(parsed)
        return network

    def _open(self, network: _Network) -> tuple[Chain, EthrRegistry]:
        from troika.chain import Chain

        with network.lock:
            if network.registry is not None:
                return network.chain, network.registry
            given = network.config.chain
            if isinstance(given, str):
                if network.chain is None:
                    network.chain = Chain.connect(
                        given,
                        chain_id=network.config.expected_chain_id,
                        timeout=self.rpc_timeout,
                        home=self.home,
                    )
                    network.owned = True
            else:
                network.chain = given
            chain: Chain = network.chain
            self._learnt(network, chain.chain_id)
            address = network.config.registry
            if address is not None and not chain.code(address):
                raise ChainError(
                    f"no contract at the registry address {address!r} on chain id {chain.chain_id}"
                )
            network.registry = EthrRegistry.at(chain, address)
            return chain, network.registry


class AsyncEthrResolver(_EthrResolverCore, AsyncClosing):
    """The asyncio twin of :class:`EthrResolver`, over :class:`~troika.chain.AsyncChain`.

    Example:
        >>> import asyncio
        >>> from troika.did import AsyncResolver
        >>> async def main() -> str | None:
        ...     resolver = AsyncResolver()
        ...     resolver.register("ethr", AsyncEthrResolver({}))
        ...     did = "did:ethr:0xb9c5714089478a327f09197987f16f9e5d936e8a"
        ...     return (await resolver.resolve(did)).error
        >>> asyncio.run(main())
        'unknownNetwork'
    """

    def _check_chain(self, chain: object) -> None:
        from troika.chain import AsyncChain

        if not isinstance(chain, AsyncChain):
            raise ConfigError("chain", chain, "AsyncEthrResolver takes an AsyncChain or an RPC URL")

    async def close(self) -> None:
        """Close the connections the resolver opened (not the chains it was given)."""
        for network in self._networks:
            if network.owned and network.chain is not None:
                chain, network.chain, network.registry, network.owned = (
                    network.chain,
                    None,
                    None,
                    False,
                )
                await chain.close()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AsyncEthrResolver:
        """The node troika's settings name (see :meth:`EthrResolver.from_settings`)."""
        from troika._config import load_settings

        settings = settings or load_settings()
        if settings.rpc_url is None:
            return cls([], rpc_timeout=settings.rpc_timeout, home=settings.home)
        network = EthrNetwork(settings.rpc_url, chain_id=settings.chain_id)
        return cls([network], rpc_timeout=settings.rpc_timeout, home=settings.home)

    async def __call__(self, did: DID, options: Mapping[str, Any]) -> ResolutionResult:
        """Resolve ``did`` (see :meth:`EthrResolver.__call__`)."""
        parsed = EthrDID.parse(did)
        shown = str(parsed.did)
        at_block, when = _version_options(shown, options)
        network = await self._lookup(parsed)
        with _chain_failures(shown, network.label):
            chain, registry = await self._open(network)
            history = await registry.history(
                parsed.address, from_block=network.config.from_block, max_events=self.max_events
            )
            times = _log_times(history)
            if at_block is not None:
                now = await self._time(chain, times, at_block, shown)
            elif when is not None:
                now = when
                blocks = sorted({event.block_number for event in history})
                low, high = 0, len(blocks)
                while low < high:
                    middle = (low + high) // 2
                    if await self._time(chain, times, blocks[middle], shown) <= when:
                        low = middle + 1
                    else:
                        high = middle
                at_block = _cutoff(blocks, low)
            else:
                latest = await chain.block("latest")
                if latest is None:  # pragma: no cover - every chain has a latest block
                    raise DIDNotFound(shown, "the chain has no latest block")
                now = latest.timestamp
                times[latest.number] = latest.timestamp
            version = ethr_document(
                parsed, history, chain_id=await chain.chain_id(), now=now, at_block=at_block
            )
            for block in (version.version_id, version.next_version_id):
                if block is not None:
                    await self._time(chain, times, block, shown)
        return ResolutionResult.success(
            version.document, document_metadata=_metadata(version, times)
        )

    @staticmethod
    async def _time(chain: AsyncChain, times: dict[int, int], number: int, did: str) -> int:
        if number not in times:
            block = await chain.block(number)
            if block is None:
                raise DIDNotFound(did, f"block {number} does not exist yet on this chain")
            times[number] = block.timestamp
        return times[number]

    async def _lookup(self, parsed: EthrDID) -> _Network:
        name = parsed.network_name
        network = self._find(name)
        failure: DIDResolutionError | None = None
        if network is None and _chain_id_of(name) is not None:
            for candidate in self._undiscovered():  # ask them their chain ids, once
                try:
                    with _chain_failures(str(parsed.did), candidate.label):
                        await self._open(candidate)
                except DIDResolutionError as exc:
                    failure = failure or exc
            network = self._find(name)
        if network is None:
            raise failure or self._unknown(parsed)
        return network

    async def _open(self, network: _Network) -> tuple[AsyncChain, AsyncEthrRegistry]:
        from troika.chain import AsyncChain

        # No lock: one event loop runs this, and a second connection at worst is closed.
        if network.registry is not None:
            return network.chain, network.registry
        given = network.config.chain
        if isinstance(given, str):
            if network.chain is None:
                network.chain = await AsyncChain.connect(
                    given,
                    chain_id=network.config.expected_chain_id,
                    timeout=self.rpc_timeout,
                    home=self.home,
                )
                network.owned = True
        else:
            network.chain = given
        chain: AsyncChain = network.chain
        chain_id = await chain.chain_id()
        self._learnt(network, chain_id)
        address = network.config.registry
        if address is not None and not await chain.code(address):
            raise ChainError(
                f"no contract at the registry address {address!r} on chain id {chain_id}"
            )
        network.registry = await AsyncEthrRegistry.at(chain, address)
        return chain, network.registry
