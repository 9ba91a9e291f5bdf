"""A local OIDC issuer that plays GitHub Actions: an RSA key made here, its JWKS on 127.0.0.1.

Tokens carry GitHub's claim set (``repository``, ``repository_id``, ``repository_owner``,
``repository_owner_id``, ``sha``, ``ref``, ``job_workflow_ref``, ``run_id``, ...). The JWKS is
served by a real HTTP server, so the registry fetches it exactly as it fetches GitHub's.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "https://registry.opendata.test"


@dataclass
class Repo:
    """A GitHub repository as the token describes it."""

    full_name: str = "acme/fx-rates"
    id: str = "101"
    owner_id: str = "9001"

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    @property
    def url(self) -> str:
        return f"https://github.com/{self.full_name}"


@dataclass
class Issuer:
    """Mints GitHub-like OIDC tokens; ``url`` is its issuer URL (JWKS at /.well-known/jwks)."""

    url: str = ""
    kid: str = field(default_factory=lambda: secrets.token_hex(4))
    key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    jwks_requests: int = 0
    token_requests: int = 0

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def claims(self, repo: Repo | None = None, **overrides: Any) -> dict[str, Any]:
        repo = repo or Repo()
        now = int(time.time())
        run_id = str(secrets.randbelow(10**10))
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": f"repo:{repo.full_name}:ref:refs/heads/main",
            "jti": secrets.token_hex(16),
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
            "repository": repo.full_name,
            "repository_id": repo.id,
            "repository_owner": repo.owner,
            "repository_owner_id": repo.owner_id,
            "repository_visibility": "public",
            "actor": repo.owner,
            "sha": secrets.token_hex(20),
            "ref": "refs/heads/main",
            "ref_type": "branch",
            "workflow": "opendata",
            "workflow_ref": f"{repo.full_name}/.github/workflows/opendata.yml@refs/heads/main",
            "job_workflow_ref": (
                f"{repo.full_name}/.github/workflows/opendata.yml@refs/heads/main"
            ),
            "event_name": "schedule",
            "run_id": run_id,
            "run_number": "7",
            "run_attempt": "1",
            "runner_environment": "github-hosted",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self, repo: Repo | None = None, *, headers: dict[str, Any] | None = None, **overrides: Any
    ) -> str:
        return jwt.encode(
            self.claims(repo, **overrides),
            self.key,
            algorithm="RS256",
            headers={"kid": self.kid, **(headers or {})},
        )


def serve(issuer: Issuer) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve ``issuer``'s JWKS (and a GitHub-like token endpoint) on 127.0.0.1."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/.well-known/jwks":
                issuer.jwks_requests += 1
                self._json(200, issuer.jwks())
            elif self.path.startswith("/token"):
                # ACTIONS_ID_TOKEN_REQUEST_URL: GET <url>&audience=… with the bearer token.
                if self.headers.get("Authorization") != "Bearer actions-request-token":
                    self._json(401, {"message": "bad request token"})
                    return
                issuer.token_requests += 1
                from urllib.parse import parse_qs, urlsplit

                query = parse_qs(urlsplit(self.path).query)
                audience = query.get("audience", [AUDIENCE])[0]
                repo = Repo(**json.loads(query.get("repo", ["{}"])[0]))
                self._json(200, {"value": issuer.token(repo, aud=audience)})
            else:
                self._json(404, {"message": "not found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
