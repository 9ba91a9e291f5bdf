"""Citations of one version in every style: text, APA, BibTeX and CITATION.cff."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from ruamel.yaml import YAML

from opendata_core.documents import Manifest
from opendata_core.metadata import DatasetMetadata, Source
from opendata_core.versions import CITATION_STYLES, citation

URL = "https://registry.example/v1/datasets/ecb/fx/versions/20250314T153112Z-9f8e7d6c"


def meta(title: str = "FX rates", license: str = "CC-BY-4.0", description: str = "") -> Any:
    return DatasetMetadata(
        id="ecb/fx",
        title=title,
        description=description,
        license=license,
        repo="https://github.com/ecb/fx",
        source=Source(provider="ECB"),
    )


VERSION = Manifest(
    dataset_id="ecb/fx",
    publish_id="20250314T153112Z-9f8e7d6c",
    published_at=datetime(2025, 3, 14, 15, 31, tzinfo=UTC),
    schema=[],
    schema_hash="",
    row_count=0,
    bytes=0,
    shards=[],
)


def cff(text: str) -> Any:
    return YAML(typ="safe").load(io.StringIO(text))


def test_apa_names_author_year_title_version_and_url() -> None:
    assert citation(meta(), VERSION, URL, style="apa") == (
        "ECB. (2025). FX rates (Version 20250314T153112Z-9f8e7d6c) [Data set]. OpenData. " + URL
    )


def test_cff_is_a_citation_file_of_that_version() -> None:
    doc = cff(citation(meta(description="Daily rates."), VERSION, URL, style="cff"))
    assert doc == {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite this version as below.",
        "type": "dataset",
        "title": "FX rates",
        "authors": [{"name": "ECB"}],
        "version": "20250314T153112Z-9f8e7d6c",
        "date-released": date(2025, 3, 14),
        "url": URL,
        "identifiers": [
            {
                "type": "url",
                "value": URL,
                "description": "OpenData dataset ecb/fx, version 20250314T153112Z-9f8e7d6c",
            }
        ],
        "license": "CC-BY-4.0",
    }


@pytest.mark.parametrize(
    "title", ['a "quoted": title', "line\nbreak", "# not a comment", "- [x]: {y}", "ünïcode ✓"]
)
def test_cff_keeps_any_title_as_text(title: str) -> None:
    assert cff(citation(meta(title), VERSION, URL, style="cff"))["title"] == title


def test_cff_names_only_an_spdx_licence() -> None:
    # The CFF schema accepts SPDX ids alone; a free-text licence stays in the other styles.
    assert "license" not in cff(
        citation(meta(license="see the ECB's terms"), VERSION, URL, style="cff")
    )
    assert "see the ECB's terms" in citation(meta(license="see the ECB's terms"), VERSION, URL)


def test_every_style_names_the_version_url() -> None:
    for style in CITATION_STYLES:
        assert URL in citation(meta(), VERSION, URL, style=style), style


def test_an_unknown_style_names_the_styles() -> None:
    with pytest.raises(ValueError, match="style='mla': use one of text, apa, bibtex, cff"):
        citation(meta(), VERSION, URL, style="mla")  # type: ignore[arg-type]
