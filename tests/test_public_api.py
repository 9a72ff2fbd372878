"""The public surface: complete, sorted __all__, nothing private leaks, fast import."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import troika


def isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then the rest."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


PACKAGES = [
    "troika",
    "troika.chain",
    "troika.ipfs",
    "troika.did",
    "troika.assets",
    "troika.compute",
    "troika.cli",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_complete_and_public(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=isort_style)
    for item in exported:
        assert hasattr(module, item), f"{name}.{item} is in __all__ but missing"
        assert not item.startswith("_") or item == "__version__"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and getattr(v, "__module__", "").startswith("troika")
        and not isinstance(v, type(troika))
    }
    assert public <= set(exported), f"{name} exposes {public - set(exported)} outside __all__"


def test_every_error_is_exported_and_rooted() -> None:
    from troika import _errors

    for name in _errors.__all__:
        error = getattr(_errors, name)
        assert issubclass(error, troika.TroikaError)
        assert getattr(troika, name) is error


def test_import_troika_does_not_load_heavy_modules() -> None:
    code = (
        "import sys, troika; "
        "print(sorted(m for m in ('web3', 'httpx', 'pydantic_settings', 'eth_tester', 'flwr')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_layers_load_on_first_use() -> None:
    assert troika.chain.Chain.__module__ == "troika.chain._chain"
    with pytest.raises(AttributeError, match="no_such_thing"):
        troika.no_such_thing  # noqa: B018
