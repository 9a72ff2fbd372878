"""A dapp backend (FastAPI): Sign-In with Ethereum, the signed-in user's assets, licences.

The backend belongs to a data publisher. A user signs in with her wallet
(EIP-4361, bound to her did:ethr); the backend lists the tokens she owns and
grants her a licence to one of the publisher's encrypted datasets, which wraps
the dataset's content key to her DID's key-agreement key. Her wallet key never
reaches the backend, and the backend's key never reaches her.

Routes: ``GET /siwe/nonce``, ``POST /siwe/login``, ``GET /me/assets``,
``GET /catalogue``, ``POST /licences`` (the last two need the session's bearer token).

Run: python examples/dapp_backend.py [--home DIR]
(the script serves the app with uvicorn on a free loopback port and plays
alice's wallet against it with httpx).
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import uvicorn
from eth_hash.auto import keccak
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from pydantic import BaseModel

from troika import SIWEError, Troika
from troika.assets import DatasetMetadata, DatasetProperties
from troika.chain import Signer
from troika.did import Identity, SIWEMessage, verify_siwe

DOMAIN = "data.example"
PASSWORD = "not a real password"  # noqa: S105 - throwaway keys of a throwaway home


class Login(BaseModel):
    message: str
    signature: str
    did: str


class LicenceRequest(BaseModel):
    token_id: int
    days: int = 30


class Session(BaseModel):
    did: str
    address: str


def current_session(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Session:
    """The signed-in user of a request (``Authorization: Bearer <token>``), or 401."""
    sessions: dict[str, Session] = request.app.state.sessions
    token = (authorization or "").removeprefix("Bearer ")
    if token not in sessions:
        raise HTTPException(401, "sign in first")
    return sessions[token]


SignedIn = Annotated[Session, Depends(current_session)]


def create_app(troika: Troika, publisher: Identity) -> FastAPI:
    """The backend: ``publisher`` is the identity that owns the catalogue and grants licences."""
    app = FastAPI(title="a troika dapp backend")
    nonces: set[str] = set()  # issued, not yet used: each signs in once
    sessions: dict[str, Session] = {}
    app.state.sessions = sessions
    lock = threading.Lock()  # routes run in worker threads; one chain client serves them all
    chain_id = troika.chain.chain_id

    @app.get("/siwe/nonce")
    def nonce() -> dict[str, Any]:
        issued = secrets.token_hex(8)
        nonces.add(issued)
        return {"nonce": issued, "domain": DOMAIN, "chain_id": chain_id}

    @app.post("/siwe/login")
    def login(body: Login) -> dict[str, str]:
        try:
            issued = SIWEMessage.parse(body.message).nonce
            if issued not in nonces:
                raise HTTPException(401, "unknown or used nonce")
            with lock:
                did = verify_siwe(
                    body.message,
                    body.signature,
                    domain=DOMAIN,
                    nonce=issued,
                    chain_id=chain_id,
                    did=body.did,  # she signs in as her did:ethr, checked on the chain
                    resolver=troika.resolver,
                )
        except (SIWEError, ValueError) as exc:
            raise HTTPException(401, str(exc)) from exc
        nonces.discard(issued)
        token = secrets.token_urlsafe(24)
        address = str(did).rsplit(":", 1)[-1]  # did:pkh:eip155:<chain>:<address>
        sessions[token] = Session(did=body.did, address=address)
        return {"token": token, "did": body.did}

    def describe(token_id: int) -> dict[str, Any]:
        asset = troika.assets(publisher).asset(token_id)
        return {
            "token_id": token_id,
            "kind": asset.kind.name.lower(),
            "name": asset.metadata.name,
            "encrypted": asset.encrypted,
        }

    @app.get("/me/assets")
    def my_assets(me: SignedIn) -> list[dict[str, Any]]:
        with lock:
            owned = troika.assets(publisher).assets_of(me.address)
            return [describe(token_id) for token_id in owned]

    @app.get("/catalogue")
    def catalogue(me: SignedIn) -> list[dict[str, Any]]:
        with lock:
            owned = troika.assets(publisher).assets_of(publisher)
            return [describe(token_id) for token_id in owned]

    @app.post("/licences")
    def grant(body: LicenceRequest, me: SignedIn) -> dict[str, Any]:
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=body.days)
        with lock:
            assets = troika.assets(publisher)
            if body.token_id not in assets.assets_of(publisher):
                raise HTTPException(404, f"#{body.token_id} is not in the catalogue")
            tx_hash = assets.grant_license(body.token_id, me.did, until)
            expiry = assets.license_expiry(body.token_id, me.address)
        return {"token_id": body.token_id, "licensee": me.did, "expiry": expiry, "tx": tx_hash}

    return app


def personal_sign(signer: Signer, text: str) -> str:
    """What a wallet does for ``personal_sign`` (EIP-191), with a troika signer's key."""
    data = text.encode()
    digest = keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)
    v, r, s = signer.sign_digest(digest)
    return "0x" + (r + s + bytes([v])).hex()


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port, in a thread; yield its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a dapp backend with Sign-In with Ethereum")
    parser.add_argument("--home", type=Path, help="the troika home (a temporary one if unset)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        run(args.home or Path(scratch))


def run(home: Path) -> None:
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    with Troika.embedded(home, scrypt_n=2**10) as troika:
        publisher = troika.identities.create("open-data-co", PASSWORD, kind="person")
        alice = troika.identities.create("alice", PASSWORD, kind="person")
        troika.fund(publisher, 10**18)  # it pays the gas of the licences it grants
        for name in ("rainfall", "river levels"):
            path = data / f"{name}.csv"
            path.write_text("day,value\n1,3.5\n2,4.0\n", encoding="utf-8")
            meta = DatasetMetadata(name=name, properties=DatasetProperties(media_type="text/csv"))
            troika.assets(publisher).mint_dataset(path, meta)
        own = data / "garden.csv"
        own.write_text("day,tomatoes\n1,4\n", encoding="utf-8")
        garden = DatasetMetadata(name="alice's garden", properties=DatasetProperties())
        troika.assets(alice).mint_dataset(own, garden)
        print(f"publisher {publisher.did}")
        print(f"alice     {alice.did}")

        with (
            serve(create_app(troika, publisher)) as url,
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            print(f"serving on {url}")
            challenge = client.get("/siwe/nonce").json()
            message = SIWEMessage.create(
                challenge["domain"],
                alice.address,
                f"https://{challenge['domain']}/login",
                challenge["chain_id"],
                statement="Sign in to the open data catalogue",
                nonce=challenge["nonce"],
            )
            login = {
                "message": str(message),
                "signature": personal_sign(alice.signer, str(message)),
                "did": str(alice.did),
            }
            response = client.post("/siwe/login", json=login)
            response.raise_for_status()
            token = response.json()["token"]
            print(f"signed in as {response.json()['did']}")
            again = client.post("/siwe/login", json=login)
            print(f"the same signed message again: {again.status_code} {again.json()['detail']}")
            print(f"without a session: {client.get('/me/assets').status_code}")
            forged = SIWEMessage.create(
                DOMAIN,
                alice.address,
                f"https://{DOMAIN}/login",
                challenge["chain_id"],
                nonce=client.get("/siwe/nonce").json()["nonce"],
            )
            signature = personal_sign(publisher.signer, str(forged))  # not alice's key
            claim = {"message": str(forged), "signature": signature, "did": str(alice.did)}
            refused = client.post("/siwe/login", json=claim)
            print(f"signed by another key: {refused.status_code} {refused.json()['detail']}")

            auth = {"authorization": f"Bearer {token}"}
            for asset in client.get("/me/assets", headers=auth).json():
                print(f"alice owns #{asset['token_id']} {asset['name']!r}")
            catalogue = client.get("/catalogue", headers=auth).json()
            print("catalogue: " + ", ".join(f"#{a['token_id']} {a['name']}" for a in catalogue))
            wanted = catalogue[0]["token_id"]
            licence = client.post("/licences", json={"token_id": wanted, "days": 7}, headers=auth)
            licence.raise_for_status()
            expiry = dt.datetime.fromtimestamp(licence.json()["expiry"], dt.UTC)
            print(f"licensed #{wanted} to alice until {expiry:%Y-%m-%d}")
            mine = client.post("/licences", json={"token_id": 3}, headers=auth)
            print(f"a licence to a token outside the catalogue: {mine.status_code}")

        # The licence carries the content key wrapped to alice's DID: she can read it.
        fetched = troika.assets(alice).fetch(wanted, home / "fetched.csv")
        print(f"alice decrypted #{wanted}: {fetched.read_text(encoding='utf-8').splitlines()[0]}")


if __name__ == "__main__":
    main()
