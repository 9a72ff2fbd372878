"""Asset metadata: validation that reports every problem, canonical bytes, and
the CID of those bytes as Kubo computes it.

The canonical form is checked against an independent ``json.dumps`` of a
dictionary written by hand from the format's rules, and the CID against Kubo's
``block put`` and ``add --only-hash``; hypothesis checks that every valid model
round-trips byte for byte and that no input raises anything but InvalidMetadata.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._services import Kubo
from troika._errors import InvalidMetadata
from troika.assets._metadata import (
    METADATA_MEDIA_TYPE,
    AssetMetadata,
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
from troika.ipfs import CID

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "schemas" / "asset-metadata.schema.json"

CONTENT = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
ENVELOPE = "bafkreihszvppjnaix34runrdlxmmkqjay5vfkatusjq63473inuz6venma"
CHECKSUM = "sha256:" + hashlib.sha256(b"hello").hexdigest()


def canonical(document: dict[str, Any]) -> bytes:
    """The format's rules, written independently of the code under test."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def cid_of(document: bytes) -> str:
    """CIDv1, raw codec, sha2-256, base32: by hand, from the multiformats specs."""
    binary = b"\x01\x55\x12\x20" + hashlib.sha256(document).digest()
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


def located(error: InvalidMetadata) -> list[tuple[tuple[str | int, ...], str]]:
    return [(tuple(e["loc"]), e["type"]) for e in error.errors]


def a_model_card() -> ModelMetadata:
    return ModelMetadata(
        name="Visit classifier ✓",
        description="Gradient-boosted trees; «ünïcode» stays unescaped.",
        image="ipfs://bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq",
        external_url="https://example.org/models/visits",
        attributes=(
            Attribute(trait_type="accuracy", value=0.93, display_type="boost_percentage"),
            Attribute(trait_type="epochs", value=12),
            Attribute(trait_type="open", value=True),
            Attribute(trait_type="family", value="trees"),
        ),
        properties=ModelProperties(
            content=CONTENT,
            size=5,
            media_type="application/octet-stream",
            checksum=CHECKSUM,
            license="https://spdx.org/licenses/Apache-2.0",
            encryption=Encryption(envelope=ENVELOPE, cipher="AES-256-GCM"),
            framework="xgboost",
            task="tabular-classification",
            inputs={"type": "object", "properties": {"age": {"type": "integer"}}},
            outputs={"type": "number", "minimum": 0.0},
            metrics={"accuracy": 0.93, "f1": 1e-07, "loss": 2},
            datasets=(3, 1),
            base_model=7,
            architecture={"layers": [64, 32, None], "activation": "relu"},
        ),
    )


# -- the canonical form ----------------------------------------------------------------------


def test_canonical_bytes_of_a_model_card() -> None:
    expected = canonical(
        {
            "name": "Visit classifier ✓",
            "description": "Gradient-boosted trees; «ünïcode» stays unescaped.",
            "image": "ipfs://bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq",
            "external_url": "https://example.org/models/visits",
            "attributes": [
                {"trait_type": "accuracy", "value": 0.93, "display_type": "boost_percentage"},
                {"trait_type": "epochs", "value": 12},
                {"trait_type": "open", "value": True},
                {"trait_type": "family", "value": "trees"},
            ],
            "properties": {
                "kind": "model",
                "content": CONTENT,
                "size": 5,
                "media_type": "application/octet-stream",
                "checksum": CHECKSUM,
                "license": "https://spdx.org/licenses/Apache-2.0",
                "encryption": {"envelope": ENVELOPE, "cipher": "AES-256-GCM"},
                "framework": "xgboost",
                "task": "tabular-classification",
                "inputs": {"type": "object", "properties": {"age": {"type": "integer"}}},
                "outputs": {"type": "number", "minimum": 0.0},
                "metrics": {"accuracy": 0.93, "f1": 1e-07, "loss": 2.0},
                "datasets": [3, 1],
                "base_model": 7,
                "architecture": {"layers": [64, 32, None], "activation": "relu"},
            },
        }
    )
    card = a_model_card()
    assert card.to_json() == expected
    assert b" " not in expected.replace(b"Visit classifier", b"").split(b'"description"')[0]
    assert "✓".encode() in expected  # UTF-8, not \\u2713
    assert b'"loss":2.0' in expected  # a metric is a float, even when given as an int


def test_canonical_bytes_of_a_dataset_omit_none_and_use_the_json_names() -> None:
    metadata = DatasetMetadata(
        name="ages",
        properties=DatasetProperties(
            media_type="text/csv; charset=utf-8",
            schema={"fields": [{"name": "age", "type": "integer"}]},
            features=(
                Feature(name="age", type="int64"),
                Feature(name="id", type="string", description="d"),
            ),
            rows=2,
        ),
    )
    assert metadata.to_json() == canonical(
        {
            "name": "ages",
            "description": "",
            "attributes": [],
            "properties": {
                "kind": "dataset",
                "media_type": "text/csv; charset=utf-8",
                "schema": {"fields": [{"name": "age", "type": "integer"}]},
                "features": [
                    {"name": "age", "type": "int64"},
                    {"name": "id", "type": "string", "description": "d"},
                ],
                "rows": 2,
            },
        }
    )
    assert metadata.properties.schema_ == {"fields": [{"name": "age", "type": "integer"}]}


def test_the_same_model_always_gives_the_same_bytes() -> None:
    assert a_model_card().to_json() == a_model_card().to_json()
    card = a_model_card()
    assert ModelMetadata.from_json(card.to_json()) == card
    assert ModelMetadata.from_json(card.to_json().decode()).to_json() == card.to_json()
    # non-canonical input parses, and re-serialises canonically
    spaced = json.dumps(json.loads(card.to_json()), indent=4)
    assert ModelMetadata.from_json(spaced).to_json() == card.to_json()


def test_commitment_and_cid_are_of_the_canonical_bytes() -> None:
    card = a_model_card()
    assert card.commitment() == hashlib.sha256(card.to_json()).digest()
    assert str(card.cid()) == cid_of(card.to_json())
    assert str(card.cid()).startswith("bafkrei")
    assert card.cid() == CID.of(card.to_json(), "raw")
    assert METADATA_MEDIA_TYPE == "application/json"


def test_cid_is_what_kubo_stores_the_metadata_block_as(kubo: Kubo, tmp_path: Path) -> None:
    for metadata in (a_model_card(), DatasetMetadata(name="d", properties=DatasetProperties())):
        document = tmp_path / "metadata.json"
        document.write_bytes(metadata.to_json())
        put = kubo.cli("block", "put", "--cid-codec", "raw", "--mhtype", "sha2-256", str(document))
        added = kubo.cli(
            "add",
            "-Q",
            "--only-hash",
            "--raw-leaves",
            "--cid-version",
            "1",
            input=metadata.to_json(),
        )
        assert put == added == str(metadata.cid())
        assert kubo.cli("block", "get", put).encode() == metadata.to_json()


# -- validation ------------------------------------------------------------------------------


def test_one_error_lists_every_problem_with_its_location() -> None:
    document = {
        "name": "",
        "description": 3,
        "image": "no scheme",
        "external_url": "ftp://example.org",
        "attributes": [{"trait_type": "x", "value": [1]}, {"value": 1, "max": 2}],
        "properties": {
            "kind": "model",
            "content": "bafy-not-a-cid",
            "size": -1,
            "media_type": "csv",
            "checksum": "sha256:ABC",
            "license": "MIT",
            "encryption": {"envelope": "Qm", "cipher": ""},
            "framework": "",
            "metrics": {"accuracy": "high"},
            "datasets": [0, "1"],
            "base_model": True,
            "archtecture": {},
        },
    }
    with pytest.raises(InvalidMetadata) as caught:
        ModelMetadata.model_validate(document)
    assert located(caught.value) == [
        (("name",), "string_too_short"),
        (("description",), "string_type"),
        (("image",), "string_pattern_mismatch"),
        (("external_url",), "string_pattern_mismatch"),
        (("attributes", 0, "value", "str"), "string_type"),
        (("attributes", 0, "value", "int"), "int_type"),
        (("attributes", 0, "value", "float"), "float_type"),
        (("attributes", 0, "value", "bool"), "bool_type"),
        (("attributes", 1, "trait_type"), "missing"),
        (("attributes", 1, "max"), "extra_forbidden"),
        (("properties", "content"), "value_error"),
        (("properties", "size"), "greater_than_equal"),
        (("properties", "media_type"), "string_pattern_mismatch"),
        (("properties", "checksum"), "string_pattern_mismatch"),
        (("properties", "license"), "string_pattern_mismatch"),
        (("properties", "encryption", "envelope"), "value_error"),
        (("properties", "encryption", "cipher"), "string_too_short"),
        (("properties", "framework"), "string_too_short"),
        (("properties", "task"), "missing"),
        (("properties", "metrics", "accuracy"), "float_type"),
        (("properties", "datasets", 0), "greater_than_equal"),
        (("properties", "datasets", 1), "int_type"),
        (("properties", "base_model"), "int_type"),
        (("properties", "archtecture"), "extra_forbidden"),
    ]
    error = caught.value
    assert isinstance(error, ValueError)
    assert str(error).startswith("ModelMetadata is invalid (24 problem(s)): name: ")
    assert all(set(e) == {"type", "loc", "msg", "input"} for e in error.errors)
    assert error.errors[1] == {
        "type": "string_type",
        "loc": ("description",),
        "msg": "Input should be a valid string",
        "input": 3,
    }


def test_constructing_with_bad_values_raises_invalid_metadata() -> None:
    with pytest.raises(InvalidMetadata) as caught:
        DatasetProperties(size=-1, checksum="md5:00", rows=1.5)  # type: ignore[arg-type]
    assert located(caught.value) == [
        (("size",), "greater_than_equal"),
        (("checksum",), "string_pattern_mismatch"),
        (("rows",), "int_type"),
    ]
    with pytest.raises(InvalidMetadata) as caught:
        DatasetMetadata(name="x" * 201, properties={"kind": "model"})  # type: ignore[arg-type]
    assert located(caught.value) == [
        (("name",), "string_too_long"),
        (("properties", "kind"), "literal_error"),
    ]
    with pytest.raises(InvalidMetadata):
        Encryption(envelope="not a cid", cipher="AES-256-GCM")
    with pytest.raises(InvalidMetadata):
        Attribute(trait_type="t", value=math.nan)
    with pytest.raises(InvalidMetadata) as caught:
        DatasetMetadata(name="x", external_url="https://", properties=DatasetProperties())
    assert located(caught.value) == [(("external_url",), "value_error")]


def test_json_valued_fields_accept_only_json() -> None:
    ok = ModelProperties(framework="f", task="t", inputs={"shape": (None, 224, 3)})
    assert ok.inputs == {"shape": [None, 224, 3]}  # a tuple is a JSON array
    given = {"a": [1]}
    copied = DatasetProperties(schema=given)
    given["a"].append(2)
    assert copied.schema_ == {"a": [1]}  # the caller's dict is copied
    for bad in ({"a": math.inf}, {"a": {1: "x"}}, {"a": {1, 2}}, {"a": b"x"}, {"a": "\ud800"}):
        with pytest.raises(InvalidMetadata) as caught:
            ModelProperties(framework="f", task="t", architecture=bad)
        assert located(caught.value) == [(("architecture",), "value_error")]


def test_unknown_top_level_members_are_kept_as_json() -> None:
    document = canonical(
        {
            "name": "n",
            "description": "",
            "attributes": [],
            "animation_url": "ipfs://" + CONTENT,
            "background_color": "ffffff",
            "properties": {"kind": "dataset", "features": [], "media_type": "text/csv"},
        }
    )
    metadata = DatasetMetadata.from_json(document)
    assert metadata.model_extra == {
        "animation_url": "ipfs://" + CONTENT,
        "background_color": "ffffff",
    }
    assert metadata.to_json() == document
    assert str(metadata.cid()) == cid_of(document)
    # a null member is absent, like a None field
    nulls = DatasetMetadata.from_json(b'{"name":"n","youtube_url":null,"properties":{}}')
    assert nulls.model_extra == {}
    with pytest.raises(InvalidMetadata) as caught:
        DatasetMetadata.model_validate({"name": "n", "extra": {"x": math.nan}, "properties": {}})
    assert located(caught.value) == [(("extra",), "value_error")]


def test_invalid_json_is_invalid_metadata() -> None:
    cases = {
        b"": "Invalid JSON: Expecting value: line 1 column 1 (char 0)",
        b"\xff{}": "Invalid JSON: not UTF-8 (invalid start byte at byte 0)",
        b'{"name": NaN}': "Invalid JSON: NaN is not JSON",
        b'{"size": 1e999}': "Invalid JSON: 1e999 is too large for a JSON number",
        b'{"name": "a", "name": "b"}': "Invalid JSON: duplicate key 'name'",
        "\ufeff{}": (
            "Invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"
        ),
    }
    for data, message in cases.items():
        with pytest.raises(InvalidMetadata) as caught:
            DatasetMetadata.from_json(data)
        assert caught.value.errors == [
            {"type": "json_invalid", "loc": (), "msg": message, "input": data}
        ]
        with pytest.raises(InvalidMetadata):
            parse_metadata(data)
    with pytest.raises(InvalidMetadata) as caught:
        parse_metadata(b"[]")
    assert located(caught.value) == [((), "model_type")]


# -- content and the union -------------------------------------------------------------------


def test_with_content_sets_the_content_fields_and_validates_them() -> None:
    draft = ModelMetadata(
        name="m",
        properties=ModelProperties(framework="onnx", task="ranking", metrics={"ndcg": 0.5}),
    )
    assert not draft.is_complete
    envelope = Encryption(envelope=ENVELOPE, cipher="AES-256-GCM")
    done = draft.with_content(CID.parse(CONTENT), 5, CHECKSUM, envelope)
    assert done.is_complete
    assert isinstance(done, ModelMetadata)
    assert (done.properties.content, done.properties.size, done.properties.checksum) == (
        CONTENT,
        5,
        CHECKSUM,
    )
    assert done.properties.encryption == envelope
    assert done.properties.metrics == {"ndcg": 0.5}
    assert draft.properties.content is None  # a copy; the draft is unchanged
    assert done.with_content(CONTENT, 5, CHECKSUM).properties.encryption is None
    with pytest.raises(InvalidMetadata) as caught:
        draft.with_content("nope", -1, "sha256:0")
    assert located(caught.value) == [
        (("properties", "content"), "value_error"),
        (("properties", "size"), "greater_than_equal"),
        (("properties", "checksum"), "string_pattern_mismatch"),
    ]


def test_parse_metadata_tells_datasets_from_models_by_kind() -> None:
    card = a_model_card()
    dataset = DatasetMetadata(name="d", properties=DatasetProperties(rows=3))
    assert parse_metadata(card.to_json()) == card
    assert parse_metadata(dataset.to_json().decode()) == dataset
    assert parse_metadata(json.loads(dataset.to_json())) == dataset
    assert isinstance(parse_metadata(card.to_json()), AssetMetadata)
    with pytest.raises(InvalidMetadata) as caught:
        parse_metadata({"name": "", "properties": {"kind": "weights", "rows": -1}})
    assert located(caught.value) == [
        (("properties", "kind"), "literal_error"),
        (("name",), "string_too_short"),
        (("properties", "rows"), "greater_than_equal"),
    ]
    assert caught.value.errors[0]["input"] == "weights"
    with pytest.raises(InvalidMetadata) as caught:
        parse_metadata({"name": "d", "properties": {"rows": 1}})
    assert located(caught.value) == [(("properties", "kind"), "missing")]
    with pytest.raises(InvalidMetadata) as caught:
        parse_metadata({"name": "d"})
    assert located(caught.value) == [(("properties",), "missing")]


# -- the JSON Schema -------------------------------------------------------------------------


def test_the_committed_json_schema_is_the_generated_one() -> None:
    regenerate = (
        'regenerate it: .venv/bin/python -c "import json, pathlib; '
        "from troika.assets._metadata import metadata_json_schema as s; "
        "pathlib.Path('docs/schemas/asset-metadata.schema.json').write_text("
        "json.dumps(s(), indent=2, ensure_ascii=False) + '\\n')\""
    )
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    generated = json.dumps(metadata_json_schema(), indent=2, ensure_ascii=False) + "\n"
    assert committed == generated, regenerate


def test_the_json_schema_accepts_canonical_documents_and_requires_kind() -> None:
    schema = metadata_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    for metadata in (a_model_card(), DatasetMetadata(name="d", properties=DatasetProperties())):
        validator.validate(json.loads(metadata.to_json()))
    assert not validator.is_valid({"name": "d", "properties": {}})
    assert not validator.is_valid({"name": "d", "properties": {"kind": "dataset", "typo": 1}})


# -- properties --------------------------------------------------------------------------------

texts = st.text(max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=3)
cids = st.sampled_from(
    [
        CONTENT,
        ENVELOPE,
        str(CID.of(b"x", "dag-pb")),
        "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n",
    ]
)
finite = st.floats(allow_nan=False, allow_infinity=False)
names = st.text(min_size=1, max_size=200)

attributes = st.builds(
    Attribute,
    trait_type=texts,
    value=texts | st.integers() | finite | st.booleans(),
    display_type=st.none() | st.sampled_from(["number", "boost_number", "date"]),
)
encryptions = st.none() | st.builds(
    Encryption, envelope=cids, cipher=st.sampled_from(["AES-256-GCM", "XChaCha20-Poly1305"])
)
content_fields: dict[str, Any] = {
    "content": st.none() | cids,
    "size": st.none() | st.integers(min_value=0),
    "media_type": st.sampled_from(
        ["application/octet-stream", "text/csv", "application/x-parquet; v=2"]
    ),
    "checksum": st.none()
    | st.binary(min_size=1).map(lambda b: "sha256:" + hashlib.sha256(b).hexdigest()),
    "license": st.none()
    | st.sampled_from(["https://spdx.org/licenses/MIT", "urn:x:terms", "ipfs://" + CONTENT]),
    "encryption": encryptions,
}
dataset_properties = st.builds(
    DatasetProperties,
    **content_fields,
    schema=st.none() | json_objects,
    features=st.lists(
        st.builds(
            Feature,
            name=names.map(lambda n: n[:20]),
            type=st.just("int64"),
            description=st.none() | texts,
        ),
        max_size=3,
    ).map(tuple),
    rows=st.none() | st.integers(min_value=0),
)
model_properties = st.builds(
    ModelProperties,
    **content_fields,
    framework=st.sampled_from(["pytorch", "onnx", "safetensors"]),
    task=texts.filter(bool),
    inputs=st.none() | json_objects,
    outputs=st.none() | json_objects,
    metrics=st.dictionaries(texts, finite, max_size=3),
    datasets=st.lists(st.integers(min_value=1), max_size=3).map(tuple),
    base_model=st.none() | st.integers(min_value=1),
    architecture=st.none() | json_objects,
)
common = {
    "name": names,
    "description": texts,
    "image": st.none() | st.just("ipfs://" + CONTENT),
    "external_url": st.none()
    | st.sampled_from(["https://example.org/a", "ipfs://" + CONTENT + "/x"]),
    "attributes": st.lists(attributes, max_size=3).map(tuple),
}
metadata_models = st.builds(DatasetMetadata, **common, properties=dataset_properties) | st.builds(
    ModelMetadata, **common, properties=model_properties
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(metadata_models)
def test_every_valid_model_round_trips_byte_for_byte(
    metadata: DatasetMetadata | ModelMetadata,
) -> None:
    document = metadata.to_json()
    again = type(metadata).from_json(document)
    assert again == metadata
    assert again.to_json() == document
    assert parse_metadata(document) == metadata
    assert json.loads(document) == json.loads(canonical(json.loads(document)))
    assert document == canonical(json.loads(document))
    assert str(metadata.cid()) == cid_of(document)


# Inputs that look like metadata often enough to reach the deep validators.
keys = (
    st.sampled_from(
        [
            "name",
            "description",
            "image",
            "external_url",
            "attributes",
            "properties",
            "kind",
            "size",
            "content",
            "schema",
            "metrics",
            "datasets",
            "framework",
            "task",
            "encryption",
            "envelope",
            "trait_type",
            "value",
        ]
    )
    | texts
)
shaped = st.recursive(
    json_scalars | cids,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(shaped)
def test_arbitrary_json_raises_nothing_but_invalid_metadata(document: Any) -> None:
    for data in (document, json.dumps(document), json.dumps(document).encode()):
        if not isinstance(data, dict | str | bytes):
            continue
        result = outcome(data)
        if isinstance(result, list):
            assert result  # an InvalidMetadata lists at least one problem
        else:
            assert parse_metadata(result.to_json()) == result
    for cls in (DatasetMetadata, ModelMetadata):
        with contextlib.suppress(InvalidMetadata):
            cls.from_json(json.dumps(document))


def outcome(data: Any) -> DatasetMetadata | ModelMetadata | list[dict[str, Any]]:
    """The parsed metadata, or the problems of the InvalidMetadata (and nothing else) raised."""
    try:
        return parse_metadata(data)
    except InvalidMetadata as exc:
        return exc.errors


@given(st.binary(max_size=64) | st.text(max_size=64))
def test_arbitrary_bytes_raise_nothing_but_invalid_metadata(data: bytes | str) -> None:
    with pytest.raises(InvalidMetadata):
        parse_metadata(data)
