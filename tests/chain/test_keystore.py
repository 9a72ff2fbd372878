"""Keys: keystore v3 files, scrypt, mode 0600, never shown."""

from __future__ import annotations

import json
import pickle
import stat
from pathlib import Path

import pytest
from eth_account import Account

from troika import InvalidKeyName, KeyExists, KeyNotFound, KeystoreError, WrongPassword
from troika.chain import GETH_SCRYPT_N, Keystore

VECTORS = Path(__file__).parent / "vectors"
LIGHT = 2**10  # throwaway keys in tests; the default is geth's 2**18


def test_new_key_is_a_keystore_v3_file_that_a_peer_decrypts(tmp_path: Path) -> None:
    store = Keystore(tmp_path, scrypt_n=LIGHT)
    info = store.new("alice", "correct horse")
    data = json.loads(info.path.read_text())
    assert data["version"] == 3
    assert data["crypto"]["kdf"] == "scrypt"
    # eth-account, the peer implementation, decrypts it to the key we sign with
    key = Account.decrypt(data, "correct horse")
    assert Account.from_key(key).address == info.address
    assert store.unlock("alice", "correct horse").address == info.address
    assert key.hex() not in info.path.read_text()


def test_default_scrypt_cost_is_geths(tmp_path: Path) -> None:
    info = Keystore(tmp_path).new("strong", "pw")
    params = json.loads(info.path.read_text())["crypto"]["kdfparams"]
    assert params["n"] >= GETH_SCRYPT_N == 262144
    assert params["r"] >= 8
    assert params["p"] >= 1


def test_file_and_folder_modes(tmp_path: Path) -> None:
    info = Keystore(tmp_path, scrypt_n=LIGHT).new("alice", "pw")
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(info.path.parent.stat().st_mode) == 0o700


def test_spec_vector_unlocks(tmp_path: Path) -> None:
    vector = json.loads((VECTORS / "web3-secret-storage-scrypt.json").read_text())
    store = Keystore(tmp_path)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "vector.json").write_text(json.dumps(vector["keyfile"]))
    assert store.show("vector").address is None  # the vector carries no address
    signer = store.unlock("vector", vector["password"])
    assert signer.address == Account.from_key(bytes.fromhex(vector["private_key"])).address


def test_wrong_password(tmp_path: Path) -> None:
    store = Keystore(tmp_path, scrypt_n=LIGHT)
    store.new("alice", "right")
    with pytest.raises(WrongPassword) as caught:
        store.unlock("alice", "wrong")
    assert caught.value.name == "alice"
    assert "wrong" not in str(caught.value).replace("wrong password", "")


def test_never_overwrites(tmp_path: Path) -> None:
    store = Keystore(tmp_path, scrypt_n=LIGHT)
    first = store.new("alice", "pw")
    before = first.path.read_bytes()
    with pytest.raises(KeyExists):
        store.new("alice", "pw")
    assert first.path.read_bytes() == before


@pytest.mark.parametrize("name", ["", "../x", ".hidden", "a/b", "x" * 65, "sp ace"])
def test_invalid_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidKeyName) as caught:
        Keystore(tmp_path, scrypt_n=LIGHT).new(name, "pw")
    assert caught.value.name == name
    assert isinstance(caught.value, ValueError)
    assert not (tmp_path / "keys").exists() or list((tmp_path / "keys").iterdir()) == []


def test_list_show_by_name_and_address(tmp_path: Path) -> None:
    store = Keystore(tmp_path, scrypt_n=LIGHT)
    bob = store.new("bob", "pw")
    alice = store.new("alice", "pw")
    assert [i.name for i in store.list()] == ["alice", "bob"]
    assert store.show("bob") == bob
    assert store.show(alice.address.lower()) == alice
    with pytest.raises(KeyNotFound) as caught:
        store.show("carol")
    assert caught.value.name == "carol"


def test_import_existing_key(tmp_path: Path) -> None:
    key = bytes(range(1, 33))
    info = Keystore(tmp_path, scrypt_n=LIGHT).import_key("imported", key, "pw")
    assert info.address == Account.from_key(key).address
    with pytest.raises(KeystoreError):
        Keystore(tmp_path, scrypt_n=LIGHT).import_key("bad", b"\x00" * 32, "pw")


def test_corrupt_key_file(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "junk.json").write_text("{not json")
    with pytest.raises(KeystoreError, match="junk"):
        Keystore(tmp_path).show("junk")


def test_signer_never_shows_its_key(tmp_path: Path) -> None:
    store = Keystore(tmp_path, scrypt_n=LIGHT)
    key = bytes(range(1, 33))
    store.import_key("k", key, "pw")
    signer = store.unlock("k", "pw")
    for shown in (repr(signer), str(signer), repr(store), repr(store.show("k"))):
        assert key.hex() not in shown
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    assert not hasattr(signer, "__dict__")
