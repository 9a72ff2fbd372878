"""troika's settings: explicit arguments, then ``TROIKA_*`` variables, then ``troika.toml``.

The file is ``./troika.toml`` if it exists, else ``<home>/troika.toml``
(``TROIKA_CONFIG`` names another file). Nothing configured means the
embedded defaults: an in-process EVM and a local blockstore.

```toml
# troika.toml
rpc_url = "http://127.0.0.1:8545"
chain_id = 31337
ipfs_api = "http://127.0.0.1:5001"
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from troika._errors import ConfigError

__all__ = ["Settings", "default_home", "load_settings"]


def default_home() -> Path:
    """``$TROIKA_HOME`` or ``~/.troika``."""
    return Path(os.environ.get("TROIKA_HOME") or "~/.troika").expanduser()


def _config_file() -> Path:
    named = os.environ.get("TROIKA_CONFIG")
    if named:
        return Path(named).expanduser()
    local = Path("troika.toml")
    return local if local.is_file() else default_home() / "troika.toml"


class Settings(BaseSettings):
    """Everything troika can be configured with.

    Example:
        >>> Settings(rpc_url="http://127.0.0.1:8545", chain_id=31337).chain_id
        31337
    """

    model_config = SettingsConfigDict(
        env_prefix="TROIKA_", extra="forbid", frozen=True, validate_default=True
    )

    home: Path = Field(default_factory=default_home, description="keys, deployments, local IPFS")
    rpc_url: str | None = Field(None, description="JSON-RPC URL; unset means the embedded EVM")
    chain_id: int | None = Field(None, gt=0, description="the chain id rpc_url must serve")
    ipfs_api: str | None = Field(None, description="Kubo RPC API URL; unset means LocalStore")
    rpc_timeout: float = Field(10.0, gt=0, description="seconds for one JSON-RPC request")
    receipt_timeout: float = Field(120.0, gt=0, description="seconds to wait for a receipt")

    @field_validator("home")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("rpc_url", "ipfs_api")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


def load_settings(**overrides: Any) -> Settings:
    """Settings from arguments (``None`` means "not given"), env and file.

    Raises:
        ConfigError: a value is invalid; the message names the setting and
            where it came from is up to the caller (argument, env or file).
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(field, first.get("input"), first["msg"]) from exc
