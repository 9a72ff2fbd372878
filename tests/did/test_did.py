"""DID and DID URL parsing: DID Core's examples and ABNF, and properties over any input."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from troika import DIDError, InvalidDID
from troika.did import DID, DIDURL

SYNTAX = json.loads((Path(__file__).parent / "vectors" / "did-syntax.json").read_text())

# The ABNF of DID Core §3.1-3.2, as regular expressions for hypothesis to draw from.
_IDCHAR = r"([A-Za-z0-9._-]|%[0-9A-Fa-f]{2})"
_PCHAR = r"([A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
DIDS = st.from_regex(rf"\Adid:[a-z0-9]+:({_IDCHAR}*:)*{_IDCHAR}+\Z")
PATHS = st.from_regex(rf"\A(/{_PCHAR}*)*\Z")
FRAGMENTS = st.one_of(st.none(), st.from_regex(rf"\A({_PCHAR}|[/?])*\Z"))
# Queries without the five DID parameters, whose values DID Core constrains further.
QUERIES = st.one_of(st.none(), st.from_regex(rf"\A({_PCHAR}|[/?])*\Z")).filter(
    lambda q: q is None or not any(p in q for p in ("versionTime", "service", "hl", "version"))
)


@pytest.mark.parametrize("case", SYNTAX["dids"], ids=lambda c: c["did"])
def test_dids_of_the_spec_parse_into_their_parts(case: dict[str, str]) -> None:
    did = DID.parse(case["did"])
    assert (did.method, did.method_specific_id) == (case["method"], case["id"])
    assert str(did) == case["did"]
    assert DID(case["method"], case["id"]) == did
    assert DIDURL.parse(case["did"]).is_did


@pytest.mark.parametrize("case", SYNTAX["did_urls"], ids=lambda c: c["url"])
def test_did_urls_of_the_spec_parse_into_their_parts(case: dict[str, Any]) -> None:
    url = DIDURL.parse(case["url"])
    assert str(url.did) == case["did"]
    assert (url.path, url.query, url.fragment) == (case["path"], case["query"], case["fragment"])
    assert dict(url.params) == case["params"]
    assert str(url) == case["url"]


@pytest.mark.parametrize("text", SYNTAX["invalid"])
def test_invalid_input_raises_invalid_did_quoting_it(text: str) -> None:
    with pytest.raises(InvalidDID) as caught:
        DIDURL.parse(text)
    assert caught.value.did == text
    assert caught.value.error == "invalidDid"
    assert repr(text) in str(caught.value)
    with pytest.raises(InvalidDID):
        DID.parse(text)


def test_invalid_did_is_a_did_error_and_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"invalid DID 'did:x'"):
        DID.parse("did:x")
    assert issubclass(InvalidDID, DIDError)


def test_a_did_url_is_not_a_did() -> None:
    with pytest.raises(InvalidDID, match="DID URL, not a DID"):
        DID.parse("did:example:123#key-1")


def test_did_parameters_have_properties() -> None:
    url = DIDURL.parse(
        "did:example:123?service=files&relativeRef=%2Fresume.pdf&versionId=7"
        "&versionTime=2021-05-10T17:00:00Z&hl=zQmWvQxTqbG2Z9HPJgG57jjwR154cKhbtJenbyYTWkjgF3e"
    )
    assert url.service == "files"
    assert url.relative_ref == "/resume.pdf"
    assert url.version_id == "7"
    assert url.version_time == datetime(2021, 5, 10, 17, 0, tzinfo=UTC)
    assert url.hl == "zQmWvQxTqbG2Z9HPJgG57jjwR154cKhbtJenbyYTWkjgF3e"
    assert DIDURL.parse("did:example:123").service is None


def test_a_did_parameter_given_twice_is_invalid() -> None:
    with pytest.raises(InvalidDID, match="'versionId' appears more than once"):
        DIDURL.parse("did:example:123?versionId=1&versionId=2")


def test_values_are_immutable_and_hashable() -> None:
    did = DID.parse("did:example:123")
    with pytest.raises(AttributeError):
        did.method = "other"  # type: ignore[misc]
    url = did.with_fragment("key-1")
    assert str(url) == "did:example:123#key-1"
    assert str(url.with_fragment(None)) == "did:example:123"
    assert {url, DIDURL.parse("did:example:123#key-1")} == {url}
    with pytest.raises(TypeError):
        url.params["x"] = "y"  # type: ignore[index]


def test_a_fragment_with_forbidden_characters_is_refused() -> None:
    with pytest.raises(InvalidDID, match="fragment"):
        DID.parse("did:example:123").with_fragment("a#b")


def test_constructing_from_parts_validates_them() -> None:
    with pytest.raises(InvalidDID):
        DID("Key", "z6Mk")
    with pytest.raises(InvalidDID):
        DIDURL(DID.parse("did:example:1"), path="no-leading-slash")
    with pytest.raises(InvalidDID):
        DIDURL(DID.parse("did:example:1"), query="a#b")


@given(did=DIDS)
def test_any_did_of_the_abnf_round_trips(did: str) -> None:
    parsed = DID.parse(did)
    assert str(parsed) == did
    assert DID.parse(str(parsed)) == parsed


@given(did=DIDS, path=PATHS, query=QUERIES, fragment=FRAGMENTS)
def test_any_did_url_of_the_abnf_round_trips(
    did: str, path: str, query: str | None, fragment: str | None
) -> None:
    text = did + path + ("" if query is None else f"?{query}")
    text += "" if fragment is None else f"#{fragment}"
    url = DIDURL.parse(text)
    assert (str(url.did), url.path, url.query, url.fragment) == (did, path, query, fragment)
    assert str(url) == text
    assert DIDURL.parse(str(url)) == url


@given(text=st.text())
@example(text="did:a:%")
@example(text="did:a:b?versionTime=2021-02-30T00:00:00Z")
@example(text="did:a:b?versionTime=")
def test_arbitrary_text_raises_nothing_but_invalid_did(text: str) -> None:
    for parse in (DID.parse, DIDURL.parse):
        outcome = _parse_or_error(parse, text)
        if isinstance(outcome, InvalidDID):
            assert outcome.did == text
        else:
            assert str(outcome) == text


def _parse_or_error(parse: Callable[[str], object], text: str) -> object:
    try:
        return parse(text)
    except InvalidDID as exc:
        return exc


@given(value=st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text())))
def test_non_strings_raise_invalid_did(value: object) -> None:
    with pytest.raises(InvalidDID, match="expected a str"):
        DIDURL.parse(value)  # type: ignore[arg-type]
