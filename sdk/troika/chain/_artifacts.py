"""Compiled contract artifacts: troika's own, shipped as package data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from troika._errors import ArtifactNotFound

__all__ = ["Artifact", "ArtifactStore", "load_artifact"]


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: ABI, bytecode and how it was compiled.

    Artifacts are written by ``contracts/build.mjs`` (solc standard JSON) and
    committed; a test rebuilds them from source and fails on any difference.
    """

    name: str
    source: str
    abi: tuple[Mapping[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes
    compiler_version: str
    settings: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Artifact:
        """Build an artifact from the JSON that the contracts build writes, or
        from a Hardhat artifact (``hh-sol-artifact-1``, which records no
        compiler: ``compiler_version`` is then ``"unknown"``)."""
        compiler = data.get("compiler")
        return cls(
            name=str(data["contractName"]),
            source=str(data["sourceName"]),
            abi=tuple(data["abi"]),
            bytecode=bytes.fromhex(str(data["bytecode"]).removeprefix("0x")),
            deployed_bytecode=bytes.fromhex(str(data["deployedBytecode"]).removeprefix("0x")),
            compiler_version=str(compiler["version"]) if compiler else "unknown",
            settings=dict(data.get("settings") or {}),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Artifact:
        """Read an artifact JSON file.

        Example:
            >>> Artifact.from_file("tests/artifacts/Probe.json").name
            'Probe'
        """
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def errors(self) -> list[Mapping[str, Any]]:
        """The ABI entries of the custom errors this contract can revert with."""
        return [entry for entry in self.abi if entry.get("type") == "error"]


class ArtifactStore:
    """Finds artifacts by contract name in an ordered list of folders.

    The default store reads the artifacts that ship inside the package
    (``troika/contracts/*.json``); pass more folders to add your own.
    """

    def __init__(self, folders: Iterable[str | Path] = ()) -> None:
        self._folders: tuple[Path, ...] = (*(Path(f) for f in folders), _package_folder())
        self._cache: dict[str, Artifact] = {}
        self._errors: list[Mapping[str, Any]] | None = None

    @property
    def folders(self) -> Sequence[Path]:
        """Where this store looks, first match wins."""
        return self._folders

    def names(self) -> list[str]:
        """The names of every artifact this store can load, sorted."""
        found = {
            p.stem for folder in self._folders if folder.is_dir() for p in folder.glob("*.json")
        }
        return sorted(found)

    def load(self, name: str) -> Artifact:
        """Load the artifact of the contract ``name``.

        Raises:
            ArtifactNotFound: no folder of this store has ``<name>.json``.
        """
        if name in self._cache:
            return self._cache[name]
        for folder in self._folders:
            candidate = folder / f"{name}.json"
            if candidate.is_file():
                artifact = Artifact.from_file(candidate)
                self._cache[name] = artifact
                return artifact
        raise ArtifactNotFound(name, self.names())

    def all_errors(self) -> list[Mapping[str, Any]]:
        """Every custom error any known contract declares (for decoding reverts).

        Read once per store: every call and transaction asks for it.
        """
        if self._errors is None:
            self._errors = [entry for name in self.names() for entry in self.load(name).errors()]
        return self._errors


def _package_folder() -> Path:
    return Path(str(resources.files("troika") / "contracts"))


def load_artifact(name: str) -> Artifact:
    """Load one of troika's own compiled contracts by name.

    Raises:
        ArtifactNotFound: troika ships no contract of that name.
    """
    return ArtifactStore().load(name)
