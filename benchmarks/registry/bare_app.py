"""The baseline: a bare Litestar endpoint that only HMAC-signs a string.

Same shape of request as the registry's ``download`` (a small JSON POST, a JSON answer with one
signed URL), with nothing else: no key check, no rate limit, no database, no manifest.
``granian --interface asgi bare_app:app``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from litestar import Litestar, post

SECRET = b"bench-secret-" * 4
KEY = "datasets/bench/prices/parts/0123456789abcdef.parquet"


@post("/v1/sign", status_code=200)
async def sign(data: dict[str, Any]) -> dict[str, str]:
    """Sign one fixed key for five minutes."""
    expires = int(time.time()) + 300
    mac = hmac.new(SECRET, f"GET\n{KEY}\n{expires}".encode(), hashlib.sha256).hexdigest()
    return {"url": f"http://127.0.0.1/files/{KEY}?expires={expires}&signature={mac}"}


app = Litestar(route_handlers=[sign], openapi_config=None)
