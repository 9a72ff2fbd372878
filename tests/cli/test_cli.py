"""The troika command, run as a user runs it: a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import troika


def run(
    *args: str, home: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("TROIKA_") and k != "COLUMNS"
    }
    full_env |= {"TROIKA_HOME": str(home), "TROIKA_CONFIG": str(home / "none.toml")}
    full_env |= env or {}
    return subprocess.run(
        [sys.executable, "-m", "troika.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        timeout=120,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_version(tmp_path: Path) -> None:
    result = run("--version", home=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"troika {troika.__version__}\n"


def test_chain_info_embedded(tmp_path: Path) -> None:
    result = run("chain", "info", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["embedded"] is True
    assert info["block"] == 0
    assert len(info["accounts"]) == 10
    assert all(a["balance"] > 0 for a in info["accounts"])
    human = run("chain", "info", home=tmp_path)
    assert str(info["chain_id"]) in human.stdout
    assert info["accounts"][0]["address"] in human.stdout


def test_chain_info_on_anvil(anvil, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("chain", "info", "--json", "--rpc", anvil.url, home=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["chain_id"] == anvil.chain_id
    assert info["embedded"] is False
    # anvil's default dev accounts (its documented mnemonic), the first of them:
    assert info["accounts"][0]["address"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    via_env = run("chain", "info", "--json", home=tmp_path, env={"TROIKA_RPC_URL": anvil.url})
    assert json.loads(via_env.stdout)["chain_id"] == anvil.chain_id


def test_wrong_chain_id_is_one_line(anvil, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = one_line_error(
        run("chain", "info", "--rpc", anvil.url, "--chain-id", "1", home=tmp_path)
    )
    assert f"chain id {anvil.chain_id}" in line
    assert "expected 1" in line


def test_unreachable_rpc_is_one_line(tmp_path: Path) -> None:
    line = one_line_error(run("chain", "info", "--rpc", "http://127.0.0.1:9", home=tmp_path))
    assert "'http://127.0.0.1:9'" in line


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    line = one_line_error(run("chain", "info", "--rpc", "localhost:8545", home=tmp_path))
    assert "rpc_url='localhost:8545'" in line


def test_keys_new_list_show(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    made = run("keys", "new", "alice", "--password-file", str(secret), "--json", home=tmp_path)
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["name"] == "alice"
    assert Path(key["path"]).parent == tmp_path / "keys"
    listed = json.loads(run("keys", "list", "--json", home=tmp_path).stdout)
    assert listed == {"keys": [{"name": "alice", "address": key["address"]}]}
    shown = json.loads(run("keys", "show", key["address"], "--json", home=tmp_path).stdout)
    assert shown == key
    # The CLI's key unlocks with the password, through the library
    from troika.chain import Keystore

    assert Keystore(tmp_path).unlock("alice", "s3cret").address == key["address"]
    for output in (made.stdout, made.stderr, run("keys", "show", "alice", home=tmp_path).stdout):
        assert "s3cret" not in output


def test_keys_password_from_env(tmp_path: Path) -> None:
    made = run("keys", "new", "bob", "--json", home=tmp_path, env={"TROIKA_KEY_PASSWORD": "pw"})
    assert made.returncode == 0, made.stderr


def test_keys_without_password_and_terminal(tmp_path: Path) -> None:
    result = run("keys", "new", "bob", home=tmp_path, stdin="")
    assert result.returncode == 2
    assert "no password" in result.stderr
    assert not (tmp_path / "keys" / "bob.json").exists()


@pytest.mark.parametrize(
    ("args", "quoted"),
    [(("keys", "show", "nobody"), "'nobody'"), (("keys", "show", "../etc"), "'../etc'")],
)
def test_key_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], quoted: str) -> None:
    assert quoted in one_line_error(run(*args, home=tmp_path))


def test_existing_key_is_kept(tmp_path: Path) -> None:
    env = {"TROIKA_KEY_PASSWORD": "pw"}
    first = run("keys", "new", "alice", home=tmp_path, env=env)
    assert first.returncode == 0
    before = (tmp_path / "keys" / "alice.json").read_bytes()
    assert "exists already" in one_line_error(run("keys", "new", "alice", home=tmp_path, env=env))
    assert (tmp_path / "keys" / "alice.json").read_bytes() == before


def test_log_level_logs_to_stderr_and_a_bad_one_is_a_usage_error(tmp_path: Path) -> None:
    logged = run("--log-level", "debug", "chain", "info", "--json", home=tmp_path)
    assert logged.returncode == 0, logged.stderr
    assert json.loads(logged.stdout)["embedded"] is True  # stdout stays machine-readable
    assert " DEBUG " in logged.stderr
    from_env = run("chain", "info", home=tmp_path, env={"TROIKA_LOG_LEVEL": "INFO"})
    assert from_env.returncode == 0
    assert " DEBUG " not in from_env.stderr
    assert run("--log-level", "loud", "chain", "info", home=tmp_path).returncode == 2


def test_debug_adds_the_traceback_to_the_one_line(tmp_path: Path) -> None:
    plain = run("ipfs", "get", "QmNope", "-o", str(tmp_path / "x"), home=tmp_path)
    line = one_line_error(plain)
    debugged = run("--debug", "ipfs", "get", "QmNope", "-o", str(tmp_path / "x"), home=tmp_path)
    assert debugged.returncode == 1
    assert "Traceback (most recent call last)" in debugged.stderr
    assert debugged.stderr.rstrip().endswith(line)
