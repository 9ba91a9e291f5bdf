"""The Jinja2 environment: templates, filters, and the static files' versioned URLs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Response
from litestar.enums import MediaType

from opendata_core.api import HealthSummary
from opendata_core.lifecycle import REASON_TERMS, STATUS_TERMS, TRUST_TERMS
from opendata_portal import render

__all__ = ["STATIC_DIR", "Pages", "health_badge"]

STATIC_DIR: Final = Path(str(files("opendata_portal") / "static"))


@cache
def _static_version(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    """``/-/static/<name>?v=<content hash>``: cacheable for long, refreshed when it changes."""
    return f"/-/static/{name}?v={_static_version(name)}"


def health_badge(health: HealthSummary) -> tuple[str, str]:
    """``(css class, words)`` for a health dot; the words are always shown (not colour alone)."""
    if health.status == "failing":
        return "bad", "failing"
    if health.status == "stale" or health.stale:
        return "warn", "stale"
    if health.status == "ok":
        if "failure" in health.recent:
            return "warn", "recent failure"
        return "good", "healthy"
    return "none", "no runs yet"


class Pages:
    """Renders the portal's templates into HTML responses."""

    def __init__(self) -> None:
        env = Environment(
            loader=PackageLoader("opendata_portal", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        env.filters.update(
            bytes=render.human_bytes,
            count=render.human_count,
            relative=render.relative_time,
            absolute=render.absolute_time,
            iso=render.iso_time,
            highlight=render.highlight,
            cell=render.cell,
            safe_url=render.safe_url,
            ticks=render.ticks,
            plural=render.plural,
        )
        env.tests["number"] = render.is_number
        env.globals.update(
            static_url=static_url,
            coverage=render.coverage,
            spdx_url=render.spdx_url,
            health_badge=health_badge,
            trust_terms=TRUST_TERMS,
            status_terms=STATUS_TERMS,
            reason_terms=REASON_TERMS,
        )
        self.env = env

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> Response[str]:
        """The HTML response for ``template`` with ``context``."""
        context.setdefault("now", datetime.now(UTC))
        html = self.env.get_template(template).render(**context)
        return Response(html, status_code=status_code, media_type=MediaType.HTML)
