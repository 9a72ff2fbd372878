"""DIDs and DID URLs: immutable values parsed by W3C DID Core's ABNF (v1.0, §3.1-3.2).

```
did                = "did:" method-name ":" method-specific-id
method-name        = 1*method-char                 ; method-char = %x61-7A / DIGIT
method-specific-id = *( *idchar ":" ) 1*idchar     ; idchar = ALPHA / DIGIT / "." / "-" / "_"
                                                   ;          / pct-encoded
did-url            = did path-abempty [ "?" query ] [ "#" fragment ]   ; RFC 3986
```

Parsing is exact: nothing is normalised (DIDs compare as strings, case and
percent-encoding included), so ``str()`` gives back the input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TypeAlias
from urllib.parse import unquote

from troika._errors import InvalidDID

__all__ = ["DID", "DIDURL", "DIDLike", "DIDURLLike"]

_PCT = r"%[0-9A-Fa-f]{2}"
_IDCHAR = rf"(?:[A-Za-z0-9._-]|{_PCT})"
_METHOD = r"[a-z0-9]+"
_METHOD_SPECIFIC_ID = rf"(?:{_IDCHAR}*:)*{_IDCHAR}+"
_PCHAR = rf"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|{_PCT})"
_DID_RE = re.compile(rf"did:({_METHOD}):({_METHOD_SPECIFIC_ID})")
_DID_URL_RE = re.compile(
    rf"(did:{_METHOD}:{_METHOD_SPECIFIC_ID})"
    rf"((?:/{_PCHAR}*)*)"
    rf"(?:\?((?:{_PCHAR}|[/?])*))?"
    rf"(?:#((?:{_PCHAR}|[/?])*))?"
)
_PATH_RE = re.compile(rf"(?:/{_PCHAR}*)*")
_FRAGMENT_RE = re.compile(rf"(?:{_PCHAR}|[/?])*")  # a query has the same syntax
# DID Core §3.2.1: an XML Schema dateTime, normalised to UTC, no sub-second precision.
_VERSION_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

#: The DID parameters that DID Core defines (§3.2.1).
DID_PARAMETERS = ("service", "relativeRef", "versionId", "versionTime", "hl")


def _reason(text: str) -> str:
    if not text.startswith("did:"):
        return "a DID starts with 'did:'"
    method, _, rest = text[4:].partition(":")
    if not re.fullmatch(_METHOD, method):
        return "the method name must be 1 or more lowercase letters or digits"
    if not rest:
        return "the method-specific id is empty"
    return (
        "not W3C DID Core syntax: the method-specific id may hold letters, digits, '.', '-', "
        "'_', ':' (not last) and %-escapes; a DID URL adds /path, ?query and #fragment"
    )


@dataclass(frozen=True, slots=True)
class DID:
    """A decentralized identifier: ``did:<method>:<method-specific-id>``.

    Example:
        >>> did = DID.parse("did:web:example.com%3A3000:user:alice")
        >>> did.method, did.method_specific_id
        ('web', 'example.com%3A3000:user:alice')
        >>> str(did.with_fragment("key-1"))
        'did:web:example.com%3A3000:user:alice#key-1'
        >>> DID.parse("DID:web:example.com")
        Traceback (most recent call last):
        ...
        troika._errors.InvalidDID: invalid DID 'DID:web:example.com': a DID starts with 'did:'
    """

    method: str
    method_specific_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not isinstance(self.method_specific_id, str):
            raise InvalidDID((self.method, self.method_specific_id), "method and id are strings")
        text = f"did:{self.method}:{self.method_specific_id}"
        if not _DID_RE.fullmatch(text):
            raise InvalidDID(text, _reason(text))

    @classmethod
    def parse(cls, text: DIDLike) -> DID:
        """Parse a DID; a DID URL (with a path, query or fragment) is not a DID.

        Raises:
            InvalidDID: ``text`` is not a DID; the message says why.
        """
        if isinstance(text, DID):
            return text
        if not isinstance(text, str):
            raise InvalidDID(text, f"expected a str, got {type(text).__name__}")
        match = _DID_RE.fullmatch(text)
        if match is None:
            if _DID_URL_RE.fullmatch(text):
                raise InvalidDID(text, "this is a DID URL, not a DID; use DIDURL.parse()")
            raise InvalidDID(text, _reason(text))
        return cls(match.group(1), match.group(2))

    def __str__(self) -> str:
        return f"did:{self.method}:{self.method_specific_id}"

    def with_fragment(self, fragment: str) -> DIDURL:
        """The DID URL ``<did>#<fragment>``, such as a verification method's id.

        Raises:
            InvalidDID: ``fragment`` holds characters a fragment may not.
        """
        if not _FRAGMENT_RE.fullmatch(fragment):
            raise InvalidDID(f"{self}#{fragment}", "the fragment holds characters RFC 3986 forbids")
        return DIDURL(self, fragment=fragment)


@dataclass(frozen=True, slots=True)
class DIDURL:
    """A DID URL: a DID with an optional path, query and fragment.

    ``query`` and ``fragment`` are None when absent and ``""`` when present but
    empty, so that ``str()`` round-trips. ``params`` holds the query's
    ``name=value`` pairs, %-decoded; the DID parameters that DID Core defines
    have properties of their own.

    Example:
        >>> url = DIDURL.parse("did:example:123?service=agent&relativeRef=/credentials#degree")
        >>> str(url.did), url.service, url.relative_ref, url.fragment
        ('did:example:123', 'agent', '/credentials', 'degree')
        >>> DIDURL.parse("did:example:123?versionTime=2021-05-10T17:00:00Z").version_time
        datetime.datetime(2021, 5, 10, 17, 0, tzinfo=datetime.timezone.utc)
    """

    did: DID
    path: str = ""
    query: str | None = None
    fragment: str | None = None
    params: Mapping[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        text = self._text()
        if not isinstance(self.did, DID) or not _DID_URL_RE.fullmatch(text):
            raise InvalidDID(text, _reason(text))
        # Each part on its own too: DIDURL(did, path="x") must not pass as a longer DID.
        if not _PATH_RE.fullmatch(self.path):
            raise InvalidDID(text, f"the path {self.path!r} is not empty and not /-led segments")
        for part in (self.query, self.fragment):
            if part is not None and not _FRAGMENT_RE.fullmatch(part):
                raise InvalidDID(text, f"{part!r} holds characters RFC 3986 forbids there")
        params = _parse_params(text, self.query)
        object.__setattr__(self, "params", MappingProxyType(params))

    @classmethod
    def parse(cls, text: DIDURLLike) -> DIDURL:
        """Parse a DID URL (a bare DID is a DID URL too).

        Raises:
            InvalidDID: ``text`` is not a DID URL, or a DID parameter's value is
                malformed (``versionTime`` must be ``YYYY-MM-DDTHH:MM:SSZ``).
        """
        if isinstance(text, DIDURL):
            return text
        if isinstance(text, DID):
            return cls(text)
        if not isinstance(text, str):
            raise InvalidDID(text, f"expected a str, got {type(text).__name__}")
        match = _DID_URL_RE.fullmatch(text)
        if match is None:
            raise InvalidDID(text, _reason(text))
        did_text, path, query, fragment = match.groups()
        return cls(DID.parse(did_text), path, query, fragment)

    def _text(self) -> str:
        query = "" if self.query is None else f"?{self.query}"
        fragment = "" if self.fragment is None else f"#{self.fragment}"
        return f"{self.did}{self.path}{query}{fragment}"

    def __str__(self) -> str:
        return self._text()

    @property
    def is_did(self) -> bool:
        """True when this is a bare DID: no path, query or fragment."""
        return not self.path and self.query is None and self.fragment is None

    @property
    def service(self) -> str | None:
        """The ``service`` DID parameter: the id of a service in the DID document."""
        return self.params.get("service")

    @property
    def relative_ref(self) -> str | None:
        """The ``relativeRef`` DID parameter, %-decoded: a reference relative to a service."""
        return self.params.get("relativeRef")

    @property
    def version_id(self) -> str | None:
        """The ``versionId`` DID parameter: a specific version of the DID document."""
        return self.params.get("versionId")

    @property
    def version_time(self) -> datetime | None:
        """The ``versionTime`` DID parameter: the document as it was at that UTC time."""
        value = self.params.get("versionTime")
        return None if value is None else datetime.fromisoformat(value)

    @property
    def hl(self) -> str | None:
        """The ``hl`` DID parameter: a hashlink of the resource, for integrity."""
        return self.params.get("hl")

    def with_fragment(self, fragment: str | None) -> DIDURL:
        """A copy with another fragment (None removes it)."""
        return DIDURL(self.did, self.path, self.query, fragment)


def _parse_params(text: str, query: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if not query:
        return params
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = unquote(name)
        if name in DID_PARAMETERS and name in params:
            raise InvalidDID(text, f"the DID parameter {name!r} appears more than once")
        params[name] = unquote(value)
    version_time = params.get("versionTime")
    if version_time is not None:
        if not _VERSION_TIME_RE.fullmatch(version_time):
            raise InvalidDID(
                text, "versionTime must be a UTC time without fractions: YYYY-MM-DDTHH:MM:SSZ"
            )
        try:
            datetime.fromisoformat(version_time)
        except ValueError as exc:
            raise InvalidDID(text, f"versionTime is not a real time: {exc}") from exc
    return params


DIDLike: TypeAlias = DID | str
"""A DID or its string."""

DIDURLLike: TypeAlias = DIDURL | DID | str
"""A DID URL, a DID, or the string of either."""
