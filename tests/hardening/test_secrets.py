"""No secret leaves troika: not in a log line, an exception, a repr or JSON.

The SDK's main paths run in this process with every logger at DEBUG (a
handler on the root logger keeps each formatted record, with its traceback):
keys made and unlocked, identities created (their DID documents written and
resolved), an encrypted dataset minted, licensed to a DID and fetched, a
private stats job requested, run and paid, and the failures a user meets on
the way. The CLI's main paths run as processes: ``troika keys new`` on the
embedded chain, ``troika asset mint`` and ``fetch`` on anvil and Kubo. The
CLI has no option or variable that turns on DEBUG logging, so each process
runs it through a two-line wrapper that configures the root logger first.

The secrets: every account's private key (as hex with and without ``0x``,
upper and lower case, base64, base64url and as the integer), each identity's
X25519 key-agreement private key, the asset's content key, and every
password. Whatever was said is searched for each of them.

Keystore files made by the CLI are mode 0600 with scrypt at least geth's
cost (N = 2**18, r = 8, p = 1); the SDK's side of that rule, and a signer
that never shows its key, are tests/chain/test_keystore.py
(``test_default_scrypt_cost_is_geths``, ``test_file_and_folder_modes``,
``test_signer_never_shows_its_key``).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account import Account

from troika import TroikaError
from troika.assets import AssetRegistry, Assets, DatasetMetadata, DatasetProperties, Envelope
from troika.chain import GETH_SCRYPT_N, Chain, Keystore
from troika.compute._jobs import ComputeJobs
from troika.compute._node import Compute, Coordinator, DatasetPolicy, Node
from troika.compute._privacy import StatsQuery
from troika.did import EthrRegistry, EthrResolver, Resolver
from troika.did._identity import Identities, Identity
from troika.ipfs import LocalStore

ETHER = 10**18
LIGHT = 2**10  # throwaway keys; the CLI's own key below has geth's cost
# distinctive, so that a match cannot be a coincidence
PASSWORDS = {"owner": "owner-pw-Qx7!vT", "reader": "reader-pw-9kZ#u", "spare": "spare-pw-Lm2$w"}

DEBUG_CLI = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
    "from troika.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def spellings(secret: bytes | str) -> set[str]:
    """The ways a secret could be written out."""
    if isinstance(secret, str):
        return {secret}
    found = {
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode(),
        base64.b64encode(secret).decode().rstrip("="),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        str(int.from_bytes(secret, "big")),
        repr(secret)[2:-1],  # as bytes print
    }
    return {text for text in found if len(text) >= 16}


def leaks(text: str, secrets: dict[str, bytes | str]) -> list[str]:
    lowered = text.lower()
    return sorted(
        name
        for name, secret in secrets.items()
        for spelling in spellings(secret)
        if spelling in text or (spelling.isalnum() and spelling.lower() in lowered)
    )


def test_the_search_finds_every_spelling() -> None:
    key = bytes(range(200, 232))
    for text in (
        f"key=0x{key.hex()}",
        f"KEY {key.hex().upper()}!",
        base64.b64encode(key).decode(),
        f"'{base64.urlsafe_b64encode(key).decode().rstrip('=')}'",
        str(int.from_bytes(key, "big")),
        repr(key),
        f"password: {PASSWORDS['owner']}",
    ):
        assert leaks(text, {"key": key, "password": PASSWORDS["owner"]}) != [], text
    assert leaks(key.hex()[:-2] + "00", {"key": key}) == []


class Recorder(logging.Handler):
    """Keeps every record, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """Every logger at DEBUG, into one handler on the root logger."""
    handler = Recorder()
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(logger, logger.level, logger.propagate, logger.disabled) for logger in loggers]
    saved_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.propagate = True
        logger.disabled = False
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for logger, level, propagate, disabled in saved:
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled


def account_key(keystore: Keystore, name: str, password: str) -> bytes:
    """The private key, read as a peer reads a keystore file."""
    keyfile = json.loads(keystore.show(name).path.read_text(encoding="utf-8"))
    return bytes(Account.decrypt(keyfile, password))


def x25519(identity: Identity) -> bytes:
    return identity.key_agreement().private_bytes_raw()


def said(*things: Any) -> list[str]:
    """repr and str of each thing, and of each exception its message and chain."""
    out: list[str] = []
    for thing in things:
        out += [repr(thing), str(thing)]
        if isinstance(thing, BaseException):
            cause = thing.__cause__ or thing.__context__
            if cause is not None:
                out += said(cause)
    return out


def failure(call: Any, *args: Any, **kwargs: Any) -> TroikaError:
    with pytest.raises(TroikaError) as caught:
        call(*args, **kwargs)
    return caught.value


def write_rows(path: Path, rows: Iterable[tuple[float, float]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["f0", "label"])
        writer.writerows(rows)
    return path


def test_the_sdks_main_paths_say_no_secret(recorder: Recorder, tmp_path: Path) -> None:
    chain = Chain.embedded()
    keystore = Keystore(tmp_path / "keys", scrypt_n=LIGHT)
    identities = Identities(chain, keystore, EthrRegistry.deploy(chain))
    owner = identities.create("owner", PASSWORDS["owner"], kind="person")
    reader = identities.create("reader", PASSWORDS["reader"], kind="agent")
    spare = keystore.new("spare", PASSWORDS["spare"])
    signer = keystore.unlock("spare", PASSWORDS["spare"])
    for someone in (owner, reader):
        chain.transfer(someone.address, 5 * ETHER)
    store = LocalStore(tmp_path / "ipfs")
    registry = AssetRegistry.deploy(chain)
    minter = chain.default_sender
    owner_assets = Assets(chain, store, registry, identity=owner, minter=minter)
    reader_assets = Assets(chain, store, registry, identity=reader, minter=minter)

    # an encrypted dataset, licensed to the reader by its DID (resolved), fetched by both
    shard = write_rows(tmp_path / "shard.csv", ((i / 10, float(i % 2)) for i in range(200)))
    metadata = DatasetMetadata(name="rows", properties=DatasetProperties(media_type="text/csv"))
    minted = owner_assets.mint_dataset(shard, metadata)
    asset = reader_assets.asset(minted.token_id)
    stranger_error = failure(reader_assets.fetch, minted.token_id, tmp_path / "no.csv")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    owner_assets.grant_license(minted.token_id, str(reader.did), until)
    for who in (owner_assets, reader_assets):
        assert who.fetch(minted.token_id, tmp_path / "out.csv").read_bytes() == shard.read_bytes()
        (tmp_path / "out.csv").unlink()
    assert minted.envelope_cid is not None
    envelope = Envelope.from_json(owner_assets.read_bytes(minted.envelope_cid))
    content_key = envelope.open(owner.key_agreement())
    resolver = Resolver()
    resolver.register("ethr", EthrResolver({chain.chain_id: chain}))
    document = resolver.resolve(str(reader.did))
    assert document.did_document is not None

    # a private stats job on the dataset, requested by the reader, run by the owner's node
    jobs = ComputeJobs.deploy(chain, registry.address)
    jobs.set_budget(minted.token_id, 2.0, sender=owner.signer)
    node = Node(
        jobs,
        owner_assets,
        [DatasetPolicy(minted.token_id, shard)],
        sender=owner.signer,
        state=tmp_path / "node.json",
    )
    compute = Compute(jobs, reader_assets)
    latest = chain.block("latest")
    assert latest is not None
    query = StatsQuery(column="f0", statistic="mean", bounds=(0.0, 20.0), epsilon=1.0)
    job_id = compute.request(
        "stats", [minted.token_id], params=query, payment=10**15, deadline=latest.timestamp + 3600
    )
    decisions = node.poll()
    Coordinator(jobs, reader_assets, timeout=60).run(job_id, [node])
    result = compute.result(job_id)
    assert result.value is not None
    withdrawn = node.withdraw()
    assert withdrawn > 0

    # what a user meets when something goes wrong
    errors = [
        stranger_error,
        failure(keystore.unlock, "owner", "not the password"),
        failure(keystore.new, "owner", PASSWORDS["owner"]),
        failure(keystore.import_key, "bad", b"\x00" * 32, PASSWORDS["spare"]),
        failure(envelope.open, X25519PrivateKey.generate(), envelope.kids[0]),
        failure(envelope.open, X25519PrivateKey.generate()),
        failure(Envelope.from_json, envelope.to_json()[:-5]),
        failure(owner_assets.grant_license, minted.token_id, "0x" + "12" * 20, until),
    ]

    secrets: dict[str, bytes | str] = {
        **{f"password {name}": password for name, password in PASSWORDS.items()},
        "owner key": account_key(keystore, "owner", PASSWORDS["owner"]),
        "reader key": account_key(keystore, "reader", PASSWORDS["reader"]),
        "spare key": account_key(keystore, "spare", PASSWORDS["spare"]),
        "owner x25519": x25519(owner),
        "reader x25519": x25519(reader),
        "content key": content_key,
    }
    backend = chain.w3.provider.ethereum_tester.backend  # type: ignore[attr-defined]
    for index, key in enumerate(backend.account_keys):
        secrets[f"dev key {index}"] = bytes(key.to_bytes())
    assert len(set(secrets.values())) == len(secrets)

    shown = [
        *recorder.lines,
        *said(*errors),
        *said(chain, keystore, spare, signer, owner, reader, identities, owner_assets),
        *said(minted, asset, envelope, *envelope.recipients, registry, jobs, node, compute),
        *said(result, decisions, withdrawn, document),
        envelope.to_json().decode(),
        asset.metadata.model_dump_json(),
        json.dumps(document.to_dict()),
        *(path.read_text(errors="replace") for path in tmp_path.glob("*.json")),
    ]
    assert any(" DEBUG " in line for line in recorder.lines)  # the DEBUG paths did run
    assert [(i, leaks(text, secrets)) for i, text in enumerate(shown) if leaks(text, secrets)] == []
    # nor is one written anywhere: keystore, blocks, the node's state, as text or raw bytes
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        written = path.read_bytes()
        raw = [name for name, secret in secrets.items() if isinstance(secret, bytes)]
        assert [name for name in raw if secrets[name] in written] == [], path
        assert leaks(written.decode("latin-1"), secrets) == [], path


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROIKA_") and k != "COLUMNS"}
    home = tmp_path / "home"
    return env | {"TROIKA_HOME": str(home), "TROIKA_CONFIG": str(home / "none.toml")}


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``troika ...`` as a process, with every logger at DEBUG on stderr."""
    return subprocess.run(
        [sys.executable, "-c", DEBUG_CLI, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_troika_keys_new_makes_a_private_geth_strength_file_and_says_no_secret(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = cli_env | {"TROIKA_KEY_PASSWORD": PASSWORDS["owner"]}
    made = cli("keys", "new", "alice", "--json", env=env)
    assert made.returncode == 0, made.stderr
    info = json.loads(made.stdout)
    path = Path(info["path"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    params = json.loads(path.read_text())["crypto"]["kdfparams"]
    assert params["n"] >= GETH_SCRYPT_N
    assert params["r"] >= 8
    assert params["p"] >= 1
    key = bytes(Account.decrypt(json.loads(path.read_text()), PASSWORDS["owner"]))
    secrets: dict[str, bytes | str] = {"password": PASSWORDS["owner"], "key": key}
    again = cli("keys", "new", "alice", env=env)  # exists: one error line
    shown = cli("keys", "show", "alice", "--json", env=env)
    listed = cli("keys", "list", env=env)
    for done in (made, again, shown, listed):
        assert leaks(done.stdout + done.stderr, secrets) == [], done
    assert again.returncode == 1


@pytest.mark.kubo
def test_troika_asset_mint_and_fetch_say_no_secret(
    anvil: Any, kubo: Any, cli_env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(cli_env["TROIKA_HOME"])
    password = PASSWORDS["owner"]
    with Chain.connect(anvil.url, chain_id=anvil.chain_id, home=home) as chain:
        keystore = Keystore(home, scrypt_n=LIGHT)
        identities = Identities(chain, keystore, EthrRegistry.deploy(chain))
        owner = identities.create("owner", password, kind="person")
        chain.transfer(owner.address, ETHER)
        secrets: dict[str, bytes | str] = {
            "password": password,
            "owner key": account_key(keystore, "owner", password),
            "owner x25519": x25519(owner),
        }
    env = cli_env | {
        "TROIKA_RPC_URL": anvil.url,
        "TROIKA_IPFS_API": kubo.api_url,
        "TROIKA_KEY_PASSWORD": password,
    }
    source = tmp_path / "rows.csv"
    source.write_bytes(os.urandom(50_000))
    minted = cli(
        "asset", "mint", "dataset", str(source), "--name", "rows", "--media-type", "text/csv",
        "--key", "owner", "--json", env=env,
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    token = json.loads(minted.stdout)
    out = tmp_path / "out.csv"
    fetched = cli(
        "asset", "fetch", str(token["token_id"]), "-o", str(out), "--key", "owner", env=env
    )
    assert fetched.returncode == 0, fetched.stderr
    assert out.read_bytes() == source.read_bytes()
    shown = cli("asset", "show", str(token["token_id"]), "--json", env=env)
    wrong = cli(
        "asset", "fetch", str(token["token_id"]), "-o", str(tmp_path / "no.csv"), "--key", "owner",
        env=env | {"TROIKA_KEY_PASSWORD": "not the password"},
    )  # fmt: skip
    assert wrong.returncode == 1
    # the content key, from the envelope the CLI pinned
    with Chain.connect(anvil.url, chain_id=anvil.chain_id, home=home) as chain:
        from troika.ipfs import KuboStore

        with KuboStore(kubo.api_url) as store:
            assets = Assets(chain, store, AssetRegistry.at(chain), identity=owner)
            envelope = Envelope.from_json(assets.read_bytes(token["envelope"]))
            secrets["content key"] = envelope.open(owner.key_agreement())
    assert any(" DEBUG " in done.stderr or "DEBUG:" in done.stderr for done in (minted, fetched))
    for done in (minted, fetched, shown, wrong):
        assert leaks(done.stdout + done.stderr, secrets) == [], done
