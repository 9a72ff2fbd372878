"""Settings: explicit arguments beat TROIKA_* variables, which beat troika.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from troika import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TROIKA_HOME", "TROIKA_RPC_URL", "TROIKA_CHAIN_ID", "TROIKA_IPFS_API"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TROIKA_CONFIG", str(tmp_path / "troika.toml"))
    monkeypatch.chdir(tmp_path)


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = load_settings()
    assert settings.rpc_url is None
    assert settings.ipfs_api is None
    assert settings.home == tmp_path / ".troika"


def test_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "troika.toml").write_text(
        'rpc_url = "http://127.0.0.1:1111"\nchain_id = 5\nipfs_api = "http://127.0.0.1:5001"\n'
    )
    assert load_settings().rpc_url == "http://127.0.0.1:1111"
    assert load_settings().chain_id == 5
    monkeypatch.setenv("TROIKA_RPC_URL", "http://127.0.0.1:2222")
    assert load_settings().rpc_url == "http://127.0.0.1:2222"
    assert load_settings(rpc_url="http://127.0.0.1:3333").rpc_url == "http://127.0.0.1:3333"
    # None means "not given": the variable still applies
    assert load_settings(rpc_url=None).rpc_url == "http://127.0.0.1:2222"
    assert load_settings().ipfs_api == "http://127.0.0.1:5001"


def test_home_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TROIKA_HOME", str(tmp_path / "h"))
    assert load_settings().home == tmp_path / "h"


@pytest.mark.parametrize(
    ("field", "value"),
    [("rpc_url", "localhost:8545"), ("chain_id", -1), ("ipfs_api", "ftp://x")],
)
def test_invalid_values(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**{field: value})
    assert caught.value.field == field
    assert caught.value.value == value
    assert repr(value) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_invalid_value_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROIKA_CHAIN_ID", "mainnet")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.field == "chain_id"


def test_unknown_key_in_file(tmp_path: Path) -> None:
    (tmp_path / "troika.toml").write_text('rpc_ulr = "http://127.0.0.1:1"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.field == "rpc_ulr"


def test_settings_are_frozen() -> None:
    settings = Settings(rpc_url="http://127.0.0.1:8545")
    with pytest.raises(ValueError, match="frozen"):
        settings.rpc_url = "http://elsewhere"  # type: ignore[misc]
