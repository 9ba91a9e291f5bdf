"""What every route handler takes from the app's state: the registry client, pages, settings."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from opendata_core.ids import DatasetId
from opendata_portal.blocks import BlockCache
from opendata_portal.pages import Pages
from opendata_portal.registry import RegistryClient
from opendata_portal.settings import Settings

__all__ = ["base_url", "blocks", "dataset_id", "pages", "registry", "settings"]


def registry(state: State) -> RegistryClient:
    """The app's one registry client."""
    client: RegistryClient = state.registry
    return client


def blocks(state: State) -> BlockCache:
    """The app's per-publish cache of rendered dataset-page blocks."""
    cache: BlockCache = state.blocks
    return cache


def pages(state: State) -> Pages:
    """The app's template renderer."""
    renderer: Pages = state.pages
    return renderer


def settings(state: State) -> Settings:
    """The app's settings."""
    value: Settings = state.settings
    return value


def base_url(request: Request[Any, Any, State]) -> str:
    """The portal's public base URL: ``OPENDATA_PORTAL_PUBLIC_URL``, else the request's."""
    configured = settings(request.app.state).public_url
    return configured or str(request.base_url).rstrip("/")


def dataset_id(ns: str, name: str) -> DatasetId:
    """``ns/name`` parsed (raises ``InvalidDatasetId``, a 404 page)."""
    return DatasetId.parse(f"{ns}/{name}")
