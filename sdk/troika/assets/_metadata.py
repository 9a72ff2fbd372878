"""Typed asset metadata: the ERC-721 metadata JSON of a dataset or model token.

A token of the AssetRegistry commits on chain to the sha2-256 digest of its
metadata JSON, pinned on IPFS as one raw block, so its ``tokenURI`` is
``ipfs://`` + the CIDv1 (raw codec, sha2-256) of those bytes. The bytes must
therefore be canonical: :meth:`AssetMetadata.to_json` writes them

* with the object keys sorted (by code point) and the compact separators
  ``,`` and ``:``, no whitespace anywhere;
* as UTF-8, characters unescaped (``ensure_ascii=False``);
* without the members whose value is ``None``; empty lists, objects and
  strings are kept;
* with the JSON names (``schema``, not ``schema_``);
* with floats as JSON numbers in Python's shortest round-trip form (``1.0``,
  ``1e-07``); NaN and infinities are not JSON and never validate.

The same model always gives the same bytes, and ``from_json(to_json(m)) == m``.
A verifier hashes the bytes it fetched, never a re-serialisation: parsing
tolerates non-canonical input (spaces, key order), so ``to_json`` of parsed
bytes equals them only when they were canonical.

The ERC-721 members (``name``, ``description``, ``image``, ``external_url``,
``attributes``) come first; troika's own fields live under ``properties``.
``properties`` and every nested object forbid unknown keys, so a typo fails.
The top level does not: ERC-721 and marketplaces define more members
(``animation_url``, ``background_color``, ...), and a token's metadata must
parse and re-serialise to the bytes it committed to, so unknown top-level
members are kept, as JSON values (Python callers still get mypy's check of
the constructor's keywords). A top-level ``null`` member is dropped, as
``None`` fields are.

Any validation failure raises :class:`~troika.InvalidMetadata`, whose
``errors`` list every problem with its ``loc``, ``msg``, ``type`` and ``input``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Annotated, Any, Generic, Literal, NoReturn, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from troika._errors import InvalidCID, InvalidMetadata
from troika._json import loads
from troika.ipfs._cid import CID, CIDLike

__all__ = [
    "METADATA_MEDIA_TYPE",
    "AssetMetadata",
    "AssetProperties",
    "Attribute",
    "DatasetMetadata",
    "DatasetProperties",
    "Encryption",
    "Feature",
    "ModelMetadata",
    "ModelProperties",
    "metadata_json_schema",
    "parse_metadata",
]

#: The media type of a metadata document.
METADATA_MEDIA_TYPE = "application/json"

_MEDIA_TYPE = (
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
    r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(\"[^\"]*\"|[A-Za-z0-9!#$&^_.+-]+))*$"
)
_CHECKSUM = r"^sha256:[0-9a-f]{64}$"
_URI = r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"  # RFC 3986: a scheme, then something
_WEB_URL = r"^(https?|ipfs)://\S+$"


# -- value checks ------------------------------------------------------------------------


def _cid_string(value: str) -> str:
    # Kept as given, not re-encoded: parsing must not change the bytes.
    try:
        CID.parse(value)
    except InvalidCID as exc:
        raise ValueError(str(exc)) from None
    return value


def _has_host(value: str) -> str:
    if not urlsplit(value).netloc:
        raise ValueError(f"{value!r} names no host (or CID, for ipfs://)")
    return value


def _json_value(value: Any, where: str = "value") -> Any:
    """A copy of ``value`` if it is JSON (tuples become lists); ``ValueError`` otherwise.

    A copy, so the caller's later changes to its dict do not change the
    metadata's bytes.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        _encodable(value)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} at {where} is not a JSON number")
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"key {key!r} at {where} is not a string")
            _encodable(key)
            copy[key] = _json_value(item, f"{where}.{key}")
        return copy
    raise ValueError(f"{type(value).__name__} at {where} is not a JSON value")


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = _json_value(value, "")
    return copy


def _encodable(text: str) -> None:
    # json.loads turns "\ud800" into a lone surrogate, which UTF-8 cannot encode.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{text!r} holds a lone surrogate, which UTF-8 cannot encode") from None


_CIDString = Annotated[str, AfterValidator(_cid_string)]
_Count = Annotated[int, Strict(), Field(ge=0)]
_TokenId = Annotated[int, Strict(), Field(ge=1)]
_JSONObject = Annotated[dict[str, Any], AfterValidator(_json_object)]
_JSONMember = Annotated[Any, AfterValidator(_json_value)]


# -- error translation --------------------------------------------------------------------


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"type": error["type"], "loc": error["loc"], "msg": error["msg"], "input": error["input"]}
        for error in exc.errors(include_url=False, include_context=False)
    ]


def _invalid_json(data: bytes | str, reason: str, title: str) -> NoReturn:
    error = {"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {reason}", "input": data}
    raise InvalidMetadata([error], title)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large for a JSON number")
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which duplicate wins; committed metadata must not be ambiguous.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _load(data: bytes | str, title: str) -> Any:
    """Decode strict JSON: UTF-8, no NaN or infinities, no duplicate keys."""
    given: object = data  # callers without mypy pass anything
    if isinstance(given, str):
        text = given
    elif isinstance(given, bytes | bytearray | memoryview):
        try:
            text = bytes(given).decode("utf-8")
        except UnicodeDecodeError as exc:
            _invalid_json(data, f"not UTF-8 ({exc.reason} at byte {exc.start})", title)
    else:
        _invalid_json(data, f"expected bytes or str, got {type(given).__name__}", title)
    try:
        return loads(  # troika._json: nesting bounded, see there why
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except (ValueError, RecursionError) as exc:
        _invalid_json(data, str(exc) or type(exc).__name__, title)


# -- models ---------------------------------------------------------------------------------


class _Model(BaseModel):
    """Frozen, strict about unknown keys, and raising InvalidMetadata, not ValidationError."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidMetadata(_problems(exc), type(self).__name__) from None

    # Pydantic calls a model's own __init__ to validate it when nested in
    # another, unless marked as its base one (as pydantic's RootModel does):
    # nested problems must stay line errors of the outer model, with locations.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate ``obj``; raises :class:`~troika.InvalidMetadata` with every problem."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise InvalidMetadata(_problems(exc), cls.__name__) from None

    @classmethod
    def model_validate_json(cls, json_data: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate JSON text; raises :class:`~troika.InvalidMetadata` with every problem."""
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            raise InvalidMetadata(_problems(exc), cls.__name__) from None


class Attribute(_Model):
    """A trait of the token, in OpenSea's ``attributes`` convention.

    Example:
        >>> Attribute(trait_type="rows", value=1200, display_type="number").value
        1200
    """

    trait_type: str
    value: str | int | float | bool
    #: How marketplaces show a number: ``number``, ``boost_number``, ``boost_percentage``, ``date``.
    display_type: str | None = None


class Feature(_Model):
    """A column of a dataset.

    Example:
        >>> Feature(name="age", type="int64", description="years").name
        'age'
    """

    name: str = Field(min_length=1)
    #: The column's type, in the dataset's own type system (``int64``, ``string``, ...).
    type: str = Field(min_length=1)
    description: str | None = None


class Encryption(_Model):
    """How the content is encrypted: the CID of its key envelope, and the cipher.

    Example:
        >>> Encryption(
        ...     envelope="bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq",
        ...     cipher="AES-256-GCM",
        ... ).cipher
        'AES-256-GCM'
    """

    envelope: _CIDString
    cipher: str = Field(min_length=1)


class AssetProperties(_Model):
    """The content fields that datasets and models share.

    The SDK fills ``content``, ``size``, ``checksum`` and ``encryption`` after
    pinning (:meth:`AssetMetadata.with_content`); the user gives the rest.
    """

    #: The CID of the content as pinned: the ciphertext when it is encrypted.
    content: _CIDString | None = None
    #: The plaintext's size in bytes.
    size: _Count | None = None
    media_type: str = Field(default="application/octet-stream", pattern=_MEDIA_TYPE)
    #: ``sha256:`` + 64 lowercase hex digits: the plaintext's digest.
    checksum: str | None = Field(default=None, pattern=_CHECKSUM)
    #: A URI of the licence terms.
    license: str | None = Field(default=None, pattern=_URI)
    encryption: Encryption | None = None


class DatasetProperties(AssetProperties):
    """A dataset's own fields, under ``properties``.

    Example:
        >>> properties = DatasetProperties(
        ...     media_type="text/csv",
        ...     features=(Feature(name="age", type="int64"),),
        ...     rows=1200,
        ...     license="https://spdx.org/licenses/CC-BY-4.0",
        ... )
        >>> properties.kind, properties.content
        ('dataset', None)
    """

    kind: Literal["dataset"] = "dataset"
    #: A schema of the content (a JSON Schema, a Frictionless table schema, ...).
    schema_: _JSONObject | None = Field(default=None, alias="schema")
    features: tuple[Feature, ...] = ()
    rows: _Count | None = None


class ModelProperties(AssetProperties):
    """A model's own fields, under ``properties``: its model card.

    A model is data, weights and an architecture spec, never code.

    Example:
        >>> card = ModelProperties(
        ...     framework="pytorch",
        ...     task="image-classification",
        ...     metrics={"accuracy": 0.93},
        ...     datasets=(1, 2),
        ... )
        >>> card.kind, card.metrics
        ('model', {'accuracy': 0.93})
    """

    kind: Literal["model"] = "model"
    framework: str = Field(min_length=1)
    task: str = Field(min_length=1)
    #: The schema of the model's input.
    inputs: _JSONObject | None = None
    #: The schema of the model's output.
    outputs: _JSONObject | None = None
    metrics: dict[str, Annotated[float, Strict()]] = Field(default_factory=dict)
    #: The token ids of the datasets it was trained on.
    datasets: tuple[_TokenId, ...] = ()
    #: The token id of the model it was fine-tuned from.
    base_model: _TokenId | None = None
    architecture: _JSONObject | None = None


PropertiesT = TypeVar("PropertiesT", bound=AssetProperties)


class AssetMetadata(_Model, Generic[PropertiesT]):
    """What datasets and models share: the ERC-721 metadata JSON, and canonical bytes.

    Build :class:`DatasetMetadata` or :class:`ModelMetadata`, not this.
    """

    model_config = ConfigDict(extra="allow")
    # Unknown top-level members are kept, but only as JSON values.
    __pydantic_extra__: dict[str, _JSONMember] = Field(init=False)

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    #: A URI of an image of the asset (``ipfs://``, ``https://``, ``data:``).
    image: str | None = Field(default=None, pattern=_URI)
    #: A page about the asset.
    external_url: Annotated[str, AfterValidator(_has_host)] | None = Field(
        default=None, pattern=_WEB_URL
    )
    attributes: tuple[Attribute, ...] = ()
    properties: PropertiesT

    @model_validator(mode="before")
    @classmethod
    def _drop_null_members(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if v is not None or k in cls.model_fields}
        return data

    # -- content ------------------------------------------------------------------------

    def with_content(
        self,
        content: CIDLike,
        size: int,
        checksum: str,
        encryption: Encryption | None = None,
    ) -> Self:
        """A copy with the content fields set, as the SDK knows them after pinning.

        Args:
            content: The CID of the content as pinned (the ciphertext, if encrypted).
            size: The plaintext's size in bytes.
            checksum: ``sha256:`` + the plaintext's digest in lowercase hex.
            encryption: The key envelope and cipher; ``None`` for plaintext content.

        Raises:
            InvalidMetadata: a value is invalid.

        Example:
            >>> import hashlib
            >>> data = b"age\\n42\\n"
            >>> draft = DatasetMetadata(name="ages", properties=DatasetProperties())
            >>> draft.is_complete
            False
            >>> done = draft.with_content(
            ...     CID.of(data), len(data), "sha256:" + hashlib.sha256(data).hexdigest()
            ... )
            >>> done.is_complete, done.properties.size
            (True, 7)
        """
        properties = self.properties.model_dump(by_alias=True)
        properties.update(
            content=str(content) if isinstance(content, CID) else content,
            size=size,
            checksum=checksum,
            encryption=encryption,
        )
        return type(self).model_validate({**self.model_dump(), "properties": properties})

    @property
    def is_complete(self) -> bool:
        """Whether the content fields (``content``, ``size``, ``checksum``) are set."""
        properties = self.properties
        return None not in (properties.content, properties.size, properties.checksum)

    # -- canonical bytes ----------------------------------------------------------------

    def to_json(self) -> bytes:
        """The canonical JSON bytes (see the module's documentation for the rules).

        Example:
            >>> DatasetMetadata(name="ages", properties=DatasetProperties()).to_json()
            b'{"attributes":[],"description":"","name":"ages","properties":{"features":[],"kind":"dataset","media_type":"application/octet-stream"}}'
        """
        document = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")

    def commitment(self) -> bytes:
        """The sha2-256 digest of :meth:`to_json`: what the token commits to on chain.

        Example:
            >>> metadata = DatasetMetadata(name="ages", properties=DatasetProperties())
            >>> metadata.commitment() == metadata.cid().multihash.digest
            True
        """
        return hashlib.sha256(self.to_json()).digest()

    def cid(self) -> CID:
        """The CIDv1 (raw codec, sha2-256) of :meth:`to_json`: the ``tokenURI`` after ``ipfs://``.

        Example:
            >>> str(DatasetMetadata(name="ages", properties=DatasetProperties()).cid())
            'bafkreihszvppjnaix34runrdlxmmkqjay5vfkatusjq63473inuz6venma'
        """
        return CID.of(self.to_json(), "raw")

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Parse and validate a metadata document.

        Raises:
            InvalidMetadata: not strict UTF-8 JSON, or not valid metadata of this kind.

        Example:
            >>> metadata = DatasetMetadata(name="ages", properties=DatasetProperties())
            >>> DatasetMetadata.from_json(metadata.to_json()) == metadata
            True
        """
        return cls.model_validate(_load(data, cls.__name__))


class DatasetMetadata(AssetMetadata[DatasetProperties]):
    """The metadata of a dataset token.

    Example:
        >>> metadata = DatasetMetadata(
        ...     name="Clinic visits 2025",
        ...     description="One row per visit.",
        ...     attributes=(Attribute(trait_type="rows", value=1200),),
        ...     properties=DatasetProperties(media_type="text/csv", rows=1200),
        ... )
        >>> metadata.properties.kind
        'dataset'
        >>> DatasetMetadata.from_json('{"name": "", "properties": {"rows": -1}}')
        Traceback (most recent call last):
        ...
        troika._errors.InvalidMetadata: DatasetMetadata is invalid (2 problem(s)): name: String should have at least 1 character; properties.rows: Input should be greater than or equal to 0
    """  # noqa: E501


class ModelMetadata(AssetMetadata[ModelProperties]):
    """The metadata of a model token: its model card.

    Example:
        >>> card = ModelMetadata(
        ...     name="visit-classifier",
        ...     properties=ModelProperties(
        ...         framework="onnx", task="tabular-classification", datasets=(1,)
        ...     ),
        ... )
        >>> card.properties.datasets
        (1,)
    """


# -- the union ----------------------------------------------------------------------------


def parse_metadata(data: bytes | str | Mapping[str, Any]) -> DatasetMetadata | ModelMetadata:
    """Parse a dataset's or a model's metadata, told apart by ``properties.kind``.

    Args:
        data: The JSON document (bytes or text), or its decoded object.

    Raises:
        InvalidMetadata: not JSON, no or an unknown ``properties.kind``, or any
            invalid field; the error lists every problem.

    Example:
        >>> card = ModelMetadata(
        ...     name="m", properties=ModelProperties(framework="onnx", task="ranking")
        ... )
        >>> parse_metadata(card.to_json()) == card
        True
        >>> parse_metadata(b'{"name": "d", "properties": {"kind": "weights"}}')
        Traceback (most recent call last):
        ...
        troika._errors.InvalidMetadata: asset metadata is invalid (1 problem(s)): properties.kind: Input should be 'dataset' or 'model'
    """  # noqa: E501
    title = "asset metadata"
    document = data if isinstance(data, Mapping) else _load(data, title)
    properties = document.get("properties") if isinstance(document, Mapping) else None
    kind = properties.get("kind") if isinstance(properties, Mapping) else None
    if kind == "model":
        return ModelMetadata.model_validate(document)
    if kind == "dataset" or not isinstance(properties, Mapping):
        return DatasetMetadata.model_validate(document)
    # No or an unknown kind: say so, with whatever else a dataset would get wrong.
    if "kind" in properties:
        error = {
            "type": "literal_error",
            "loc": ("properties", "kind"),
            "msg": "Input should be 'dataset' or 'model'",
            "input": kind,
        }
    else:
        error = {
            "type": "missing",
            "loc": ("properties", "kind"),
            "msg": "Field required",
            "input": properties,
        }
    others: list[dict[str, Any]] = []
    try:
        DatasetMetadata.model_validate(document)
    except InvalidMetadata as exc:
        others = [e for e in exc.errors if e["loc"] != ("properties", "kind")]
    raise InvalidMetadata([error, *others], title)


def metadata_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a metadata document, dataset or model.

    ``docs/schemas/asset-metadata.schema.json`` holds it for other languages.
    It cannot say everything the models check (CIDs, hosts, UTF-8), and it
    requires ``properties.kind``, which Python callers may leave to its default.

    Example:
        >>> schema = metadata_json_schema()
        >>> [ref["$ref"] for ref in schema["anyOf"]]
        ['#/$defs/DatasetMetadata', '#/$defs/ModelMetadata']
    """
    adapter: TypeAdapter[DatasetMetadata | ModelMetadata] = TypeAdapter(
        DatasetMetadata | ModelMetadata
    )
    schema = adapter.json_schema(by_alias=True)
    for name, definition in schema["$defs"].items():
        if "description" in definition:  # the docstring's summary, not its Python examples
            definition["description"] = definition["description"].split("\n\n")[0]
        if name in ("DatasetProperties", "ModelProperties"):
            definition["required"] = sorted({*definition.get("required", ()), "kind"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "troika asset metadata",
        "description": (
            "The ERC-721 metadata JSON of a troika dataset or model token; "
            "troika's own fields are under properties."
        ),
        **schema,
    }
