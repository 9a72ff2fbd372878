"""did:key (W3C CCG "The did:key Method v0.7"): a DID that is a public key.

``did:key:z<base58btc(multicodec varint || raw public key)>`` expands, with no
I/O, into a DID document by the specification's Document Creation Algorithm.
Ed25519 (``z6Mk``), secp256k1 (``zQ3s``, compressed), P-256 (``zDn``,
compressed) and X25519 (``z6LS``) keys are supported. An Ed25519 key also gets
the X25519 key-agreement key that the birational map u = (1 + y) / (1 - y)
derives from it (RFC 7748 §4.1), so that content can be encrypted to the DID.

The verification method type is the ``public_key_format`` option of the
specification: ``Multikey`` by default (its context
``https://w3id.org/security/multikey/v1``), or ``JsonWebKey2020``, the 2020
suites (``Ed25519VerificationKey2020`` with ``X25519KeyAgreementKey2020``) or
the 2018/2019 suites that the specification's published test vectors use
(``Ed25519VerificationKey2018`` with ``X25519KeyAgreementKey2019``,
``EcdsaSecp256k1VerificationKey2019``, with ``publicKeyBase58``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from troika._errors import InvalidDID, InvalidPublicKey
from troika.did._did import DID, DIDLike
from troika.did._document import DID_CONTEXT, JWK, DIDDocument, VerificationMethod
from troika.ipfs._multiformats import base58btc_decode, base58btc_encode, read_varint, varint

__all__ = ["DIDKey", "KeyPair", "KeyType", "PublicKeyFormat", "ed25519_to_x25519", "resolve_key"]

KeyType: TypeAlias = Literal["Ed25519", "X25519", "secp256k1", "P-256"]
"""The key types troika's did:key supports."""

PublicKeyFormat: TypeAlias = Literal[
    "Multikey",
    "JsonWebKey2020",
    "Ed25519VerificationKey2020",
    "X25519KeyAgreementKey2020",
    "Ed25519VerificationKey2018",
    "X25519KeyAgreementKey2019",
    "EcdsaSecp256k1VerificationKey2019",
]
"""How a did:key document expresses its keys (the specification's ``publicKeyFormat``)."""

# multicodec table: ed25519-pub, x25519-pub, secp256k1-pub, p256-pub
_CODECS: dict[KeyType, int] = {"Ed25519": 0xED, "X25519": 0xEC, "secp256k1": 0xE7, "P-256": 0x1200}
_TYPES_BY_CODEC: dict[int, KeyType] = {code: name for name, code in _CODECS.items()}
_LENGTHS: dict[KeyType, int] = {"Ed25519": 32, "X25519": 32, "secp256k1": 33, "P-256": 33}
_OTHER_CODECS = {0x1201: "P-384", 0x1202: "P-521", 0xEB: "bls12_381-g2", 0x1205: "rsa"}
_CURVES: dict[KeyType, ec.EllipticCurve] = {"secp256k1": ec.SECP256K1(), "P-256": ec.SECP256R1()}

_FORMATS: dict[KeyType, tuple[str, ...]] = {
    "Ed25519": (
        "Multikey",
        "JsonWebKey2020",
        "Ed25519VerificationKey2020",
        "Ed25519VerificationKey2018",
    ),
    "X25519": (
        "Multikey",
        "JsonWebKey2020",
        "X25519KeyAgreementKey2020",
        "X25519KeyAgreementKey2019",
    ),
    "secp256k1": ("Multikey", "JsonWebKey2020", "EcdsaSecp256k1VerificationKey2019"),
    "P-256": ("Multikey", "JsonWebKey2020"),
}
# The type of the X25519 key derived from an Ed25519 key, by the Ed25519 key's type.
_AGREEMENT_FORMAT = {
    "Multikey": "Multikey",
    "JsonWebKey2020": "JsonWebKey2020",
    "Ed25519VerificationKey2020": "X25519KeyAgreementKey2020",
    "Ed25519VerificationKey2018": "X25519KeyAgreementKey2019",
}
_CONTEXTS = {
    "Multikey": "https://w3id.org/security/multikey/v1",
    "JsonWebKey2020": "https://w3id.org/security/suites/jws-2020/v1",
    "Ed25519VerificationKey2020": "https://w3id.org/security/suites/ed25519-2020/v1",
    "X25519KeyAgreementKey2020": "https://w3id.org/security/suites/x25519-2020/v1",
    "Ed25519VerificationKey2018": "https://w3id.org/security/suites/ed25519-2018/v1",
    "X25519KeyAgreementKey2019": "https://w3id.org/security/suites/x25519-2019/v1",
    "EcdsaSecp256k1VerificationKey2019": "https://w3id.org/security/suites/secp256k1-2019/v1",
}
_MULTIBASE_FORMATS = {"Multikey", "Ed25519VerificationKey2020", "X25519KeyAgreementKey2020"}

# -- Curve25519 field arithmetic (RFC 8032 §5.1, RFC 7748 §4.1) -------------------

_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _ed25519_y(public_key: bytes) -> int:
    """The y coordinate of an Ed25519 public key, after checking it is a curve point."""
    number = int.from_bytes(public_key, "little")
    y = number & ((1 << 255) - 1)
    sign = number >> 255
    if y >= _P:
        raise ValueError("y is not reduced modulo 2^255 - 19")
    # RFC 8032 §5.1.3: recover x from y; no square root means no point.
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        raise ValueError("not a point on the Ed25519 curve")
    if x == 0 and sign:
        raise ValueError("non-canonical encoding of x = 0")
    if y == 1:
        raise ValueError("the identity point is not a public key")
    return y


def ed25519_to_x25519(public_key: bytes) -> bytes:
    """The X25519 public key of an Ed25519 public key: u = (1 + y) / (1 - y) mod p.

    The map between the twisted Edwards and the Montgomery form of Curve25519
    (RFC 7748 §4.1); the did:key specification derives its ``z6LS``
    key-agreement key this way.

    Raises:
        ValueError: ``public_key`` is not a 32-byte Ed25519 public key.

    Example:
        >>> ed = DIDKey.parse("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        >>> DIDKey("X25519", ed25519_to_x25519(ed.public_key)).multibase
        'z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p'
    """
    if len(public_key) != 32:
        raise ValueError(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
    y = _ed25519_y(public_key)
    u = (1 + y) * pow(1 - y, -1, _P) % _P
    return u.to_bytes(32, "little")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class DIDKey:
    """A did:key: a key type and the raw public key (EC keys compressed, 33 bytes).

    Build one by parsing a DID (:meth:`parse`) or from a public key; it checks
    that the key is a valid point of its curve.

    Example:
        >>> key = DIDKey.parse("did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169")
        >>> key.key_type, len(key.public_key)
        ('P-256', 33)
        >>> key.jwk().x
        'fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI'
        >>> method = key.document().methods_for("authentication")[0]
        >>> method.type, method.id == f"{key.did}#{key.multibase}"
        ('Multikey', True)
    """

    key_type: KeyType
    public_key: bytes

    def __post_init__(self) -> None:
        if self.key_type not in _CODECS:
            raise InvalidPublicKey(
                self.key_type,
                f"unsupported key type; troika's did:key supports {', '.join(_CODECS)}",
                error="unsupportedPublicKeyType",
            )
        if not isinstance(self.public_key, bytes | bytearray | memoryview):
            raise InvalidPublicKey(self.public_key, "a public key is bytes")
        object.__setattr__(self, "public_key", bytes(self.public_key))
        shown = str(self)
        expected = _LENGTHS[self.key_type]
        if len(self.public_key) != expected:
            raise InvalidPublicKey(
                shown,
                f"a {self.key_type} public key has {expected} bytes, not {len(self.public_key)}",
                error="invalidPublicKeyLength",
            )
        try:
            if self.key_type == "Ed25519":
                _ed25519_y(self.public_key)
            elif self.key_type in _CURVES:
                if self.public_key[0] not in (2, 3):
                    raise ValueError("not a compressed point (0x02 or 0x03 first)")
                ec.EllipticCurvePublicKey.from_encoded_point(
                    _CURVES[self.key_type], self.public_key
                )
        except ValueError as exc:
            raise InvalidPublicKey(shown, f"not a valid {self.key_type} key: {exc}") from exc

    @classmethod
    def parse(cls, did: DIDLike) -> DIDKey:
        """Decode a did:key.

        Raises:
            InvalidDID: not a did:key (``error`` is ``invalidDid``).
            InvalidPublicKey: a did:key whose key troika cannot use (``error``
                says which way, in the did:key specification's terms).
        """
        parsed = DID.parse(did)
        shown = str(parsed)
        if parsed.method != "key":
            raise InvalidDID(shown, "not a did:key")
        multibase = parsed.method_specific_id
        if not multibase.startswith("z"):
            raise InvalidDID(shown, "a did:key is base58btc multibase: 'z' comes first")
        try:
            raw = base58btc_decode(multibase[1:])
            code, start = read_varint(raw)
        except ValueError as exc:
            raise InvalidDID(shown, f"not a multicodec public key: {exc}") from exc
        key_type = _TYPES_BY_CODEC.get(code)
        if key_type is None:
            name = _OTHER_CODECS.get(code, f"multicodec 0x{code:x}")
            raise InvalidPublicKey(
                shown,
                f"{name} keys are not supported; troika supports {', '.join(_CODECS)}",
                error="unsupportedPublicKeyType",
            )
        # The key's checks quote str(key), which is the DID parsed: base58btc and
        # minimal varints have one encoding only.
        return cls(key_type, raw[start:])

    @property
    def multibase(self) -> str:
        """The key as a Multikey: ``z`` + base58btc(multicodec varint || raw key)."""
        return "z" + base58btc_encode(varint(_CODECS[self.key_type]) + self.public_key)

    @property
    def did(self) -> DID:
        """The DID: ``did:key:<multibase>``."""
        return DID("key", self.multibase)

    def __str__(self) -> str:
        return f"did:key:{self.multibase}"

    def key_agreement_key(self) -> DIDKey | None:
        """The X25519 key to encrypt to: the derived one for Ed25519, itself for X25519.

        None for secp256k1 and P-256 keys, whose documents have no keyAgreement.
        """
        if self.key_type == "Ed25519":
            return DIDKey("X25519", ed25519_to_x25519(self.public_key))
        if self.key_type == "X25519":
            return self
        return None

    def jwk(self) -> JWK:
        """The public key as a JWK (RFC 7517/8037): ``OKP`` or ``EC`` with ``x`` (and ``y``)."""
        if self.key_type in ("Ed25519", "X25519"):
            return JWK(kty="OKP", crv=self.key_type, x=_b64url(self.public_key))
        point = ec.EllipticCurvePublicKey.from_encoded_point(
            _CURVES[self.key_type], self.public_key
        ).public_numbers()
        return JWK(
            kty="EC",
            crv=self.key_type,
            x=_b64url(point.x.to_bytes(32, "big")),
            y=_b64url(point.y.to_bytes(32, "big")),
        )

    def document(
        self,
        public_key_format: PublicKeyFormat | str = "Multikey",
        *,
        enable_encryption_key_derivation: bool = True,
    ) -> DIDDocument:
        """The DID document, by the did:key v0.7 Document Creation Algorithm.

        The key's verification method (id ``<did>#<multibase>``) is referenced
        from ``authentication``, ``assertionMethod``, ``capabilityInvocation``
        and ``capabilityDelegation``. An Ed25519 key's derived X25519 key is a
        second verification method, referenced from ``keyAgreement`` (unless
        ``enable_encryption_key_derivation`` is False); an X25519 key is only
        for key agreement. ``@context`` lists the DID context and each
        verification method type's context.

        Raises:
            InvalidPublicKey: ``public_key_format`` is unknown
                (``unsupportedPublicKeyType``) or not one for this key's type
                (``invalidPublicKeyType``).
        """
        did = str(self)
        if public_key_format not in _CONTEXTS:
            raise InvalidPublicKey(
                did,
                f"unknown publicKeyFormat {public_key_format!r}; known: {', '.join(_CONTEXTS)}",
                error="unsupportedPublicKeyType",
            )
        if public_key_format not in _FORMATS[self.key_type]:
            raise InvalidPublicKey(
                did,
                f"publicKeyFormat {public_key_format!r} cannot express a {self.key_type} key; "
                f"use one of {', '.join(_FORMATS[self.key_type])}",
                error="invalidPublicKeyType",
            )
        main = self._method(did, public_key_format)
        methods = [main]
        # An X25519 key cannot sign: it is only for key agreement.
        signing = None if self.key_type == "X25519" else (main.id,)
        agreement = (main.id,) if self.key_type == "X25519" else None
        if self.key_type == "Ed25519" and enable_encryption_key_derivation:
            derived = DIDKey("X25519", ed25519_to_x25519(self.public_key))
            methods.append(derived._method(did, _AGREEMENT_FORMAT[public_key_format]))
            agreement = (methods[-1].id,)
        if public_key_format == "EcdsaSecp256k1VerificationKey2019":
            # The 2019-era secp256k1 documents (and the specification's vectors)
            # list the key for ECDH key agreement too.
            agreement = (main.id,)
        contexts = [DID_CONTEXT]
        for method in methods:
            if _CONTEXTS[method.type] not in contexts:
                contexts.append(_CONTEXTS[method.type])
        return DIDDocument(
            context=tuple(contexts),
            id=did,
            verification_method=tuple(methods),
            authentication=signing,
            assertion_method=signing,
            key_agreement=agreement,
            capability_invocation=signing,
            capability_delegation=signing,
        )

    def _method(self, did: str, public_key_format: str) -> VerificationMethod:
        key: dict[str, Any] = {}
        if public_key_format in _MULTIBASE_FORMATS:
            key["public_key_multibase"] = self.multibase
        elif public_key_format == "JsonWebKey2020":
            key["public_key_jwk"] = self.jwk()
        else:
            key["public_key_base58"] = base58btc_encode(self.public_key)
        return VerificationMethod(
            id=f"{did}#{self.multibase}", type=public_key_format, controller=did, **key
        )


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A private key and its did:key. Its ``repr`` never shows the private key.

    ``private_key`` is the raw secret: the 32-byte seed for Ed25519 and X25519,
    the 32-byte big-endian scalar for secp256k1 and P-256.

    Example:
        >>> pair = KeyPair.generate("Ed25519")
        >>> str(pair.did).startswith("did:key:z6Mk")
        True
        >>> "private" in repr(pair)
        False
    """

    key_type: KeyType
    private_key: bytes = field(repr=False)
    public: DIDKey

    @classmethod
    def generate(cls, key_type: KeyType = "Ed25519") -> KeyPair:
        """A new random key pair of ``key_type`` (from the OS's CSPRNG via cryptography)."""
        if key_type == "Ed25519":
            seed = ed25519.Ed25519PrivateKey.generate().private_bytes_raw()
        elif key_type == "X25519":
            seed = x25519.X25519PrivateKey.generate().private_bytes_raw()
        elif key_type in _CURVES:
            scalar = ec.generate_private_key(_CURVES[key_type]).private_numbers().private_value
            seed = scalar.to_bytes(32, "big")
        else:
            raise ValueError(f"unsupported key type {key_type!r}; use one of {', '.join(_CODECS)}")
        return cls.from_private_key(key_type, seed)

    @classmethod
    def from_private_key(cls, key_type: KeyType, private_key: bytes) -> KeyPair:
        """The key pair of a raw private key.

        Raises:
            ValueError: the private key has the wrong length or is out of range
                (the message never shows it).
        """
        if key_type not in _CODECS:
            raise ValueError(f"unsupported key type {key_type!r}; use one of {', '.join(_CODECS)}")
        if len(private_key) != 32:
            raise ValueError(f"a {key_type} private key has 32 bytes, not {len(private_key)}")
        public: bytes
        if key_type == "Ed25519":
            edwards = ed25519.Ed25519PrivateKey.from_private_bytes(private_key)
            public = edwards.public_key().public_bytes_raw()
        elif key_type == "X25519":
            montgomery = x25519.X25519PrivateKey.from_private_bytes(private_key)
            public = montgomery.public_key().public_bytes_raw()
        else:
            try:
                secret = ec.derive_private_key(
                    int.from_bytes(private_key, "big"), _CURVES[key_type]
                )
            except ValueError:
                raise ValueError(f"the {key_type} private key is out of range") from None
            public = secret.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        return cls(key_type, bytes(private_key), DIDKey(key_type, public))

    @property
    def did(self) -> DID:
        """The did:key of the public key."""
        return self.public.did

    def key_agreement_private_key(self) -> bytes | None:
        """The X25519 private key that matches :meth:`DIDKey.key_agreement_key`.

        For Ed25519: the clamped first half of SHA-512(seed), the scalar that
        Ed25519 itself uses (as libsodium's ``crypto_sign_ed25519_sk_to_curve25519``).
        For X25519: the key itself. None for secp256k1 and P-256.
        """
        if self.key_type == "X25519":
            return self.private_key
        if self.key_type != "Ed25519":
            return None
        scalar = bytearray(hashlib.sha512(self.private_key).digest()[:32])
        scalar[0] &= 248
        scalar[31] &= 127
        scalar[31] |= 64
        return bytes(scalar)


def resolve_key(did: DID, options: Mapping[str, Any]) -> DIDDocument:
    """The document of a did:key, with the resolver's options.

    Options: ``public_key_format`` (default ``"Multikey"``) and
    ``enable_encryption_key_derivation`` (default True).
    """
    key = DIDKey.parse(did)
    return key.document(
        options.get("public_key_format", "Multikey"),
        enable_encryption_key_derivation=bool(
            options.get("enable_encryption_key_derivation", True)
        ),
    )
