"""Machines find the datasets: checked by tools nobody here wrote, against a live stack.

- mlcroissant validates every dataset's Croissant file and loads one dataset's records through
  it (the shard URLs redirect to the registry's signed URLs on 127.0.0.1);
- extruct finds a schema.org ``Dataset`` in every dataset page;
- rdflib parses the DCAT catalogue (JSON-LD and Turtle: the same graph) and pyshacl finds it
  conforming to the DCAT-AP 3.0.1 shapes (vendored in dcat_ap/ with their licence).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.portal import live

SHAPES = Path(__file__).parent / "dcat_ap"


def dataset_ids(stack: live.Stack) -> list[str]:
    found = httpx.get(stack.registry + "/v1/datasets", params={"per_page": "100"}).json()
    return sorted(hit["dataset"]["id"] for hit in found["datasets"])


def test_every_croissant_file_validates(stack: live.Stack, tmp_path: Path) -> None:
    ids = dataset_ids(stack)
    assert len(ids) >= 5
    shards = {}
    for dataset_id in ids:
        r = httpx.get(f"{stack.portal}/{dataset_id}/croissant.json")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
        doc = r.json()
        shards[dataset_id] = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
        path = tmp_path / (dataset_id.replace("/", "__") + ".json")
        path.write_text(r.text)
        done = subprocess.run(
            [str(live.BIN / "mlcroissant"), "validate", "--jsonld", str(path)],
            env=live.clean_env(tmp_path, CROISSANT_CACHE=str(tmp_path / "cache")),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (dataset_id, done.stdout, done.stderr)
        assert "Done" in done.stderr + done.stdout or "error" not in done.stderr.lower()
    # ecb/euro-fx-rates is published in two yearly shards: two FileObjects and a FileSet, and
    # the registry's one-file export that its fields read.
    assert [s["name"] for s in shards["ecb/euro-fx-rates"]] == [
        "parquet-2023",
        "parquet-2024",
        "parquet-rows",
    ]


# Both sides print their rows the same way: values by column, dates as YYYY-MM-DD, text as str,
# NaN and missing as None.
_NORMALISE = """
import datetime, json, math
def norm(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (datetime.date, datetime.datetime)) or hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    if isinstance(v, float) and math.isnan(v):
        return None
    return v
"""


@pytest.mark.parametrize(
    "dataset_id",
    [
        "noaa/global-temperature",  # one shard: its FileObject
        "ecb/euro-fx-rates",  # two shards: the registry's one-file export (decision 0010)
    ],
)
def test_mlcroissant_reads_the_same_rows_as_od_load(
    stack: live.Stack, tmp_path: Path, dataset_id: str
) -> None:
    name = dataset_id.split("/")[1]
    url = f"{stack.portal}/{dataset_id}/croissant.json"
    script = _NORMALISE + (
        "import mlcroissant as mlc\n"
        f"ds = mlc.Dataset(jsonld={url!r})\n"
        f"rows = [{{k.split('/', 1)[1]: norm(v) for k, v in r.items()}} for r in ds.records(record_set={name!r})]\n"
        "print(json.dumps(rows))\n"
    )
    env = live.clean_env(tmp_path, CROISSANT_CACHE=str(tmp_path / "cache"))
    done = subprocess.run(
        [str(live.BIN / "python"), "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    croissant_rows = json.loads(done.stdout.splitlines()[-1])
    load = _NORMALISE + (
        "import opendata as od\n"
        f"df = od.load({dataset_id!r})\n"
        "print(json.dumps([{k: norm(v) for k, v in r.items()} for r in df.to_dict('records')]))\n"
    )
    loaded = subprocess.run(
        [str(live.BIN / "python"), "-c", load],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    expected = json.loads(loaded.stdout)
    assert (
        len(croissant_rows)
        == len(expected)
        == {"noaa/global-temperature": 540, "ecb/euro-fx-rates": 500}[dataset_id]
    )
    assert croissant_rows == expected


def test_extruct_finds_a_dataset_on_every_page(stack: live.Stack) -> None:
    import extruct

    for dataset_id in dataset_ids(stack):
        page = f"{stack.portal}/{dataset_id}"
        html = httpx.get(page).text
        found = extruct.extract(html, base_url=page, syntaxes=["json-ld"])["json-ld"]
        datasets = [d for d in found if d.get("@type") == "Dataset"]
        assert len(datasets) == 1, (dataset_id, found)
        d = datasets[0]
        assert d["identifier"] == dataset_id and d["url"] == page
        for key in ("name", "description", "creator", "publisher", "dateModified", "version"):
            assert d[key], (dataset_id, key)
        assert d["isAccessibleForFree"] is True
        assert {x["encodingFormat"] for x in d["distribution"]} == {
            "application/vnd.apache.parquet",
            "text/csv",
            "application/ld+json",
        }
        assert "OpenData dataset " + dataset_id in d["citation"]
    ecb = extruct.extract(
        httpx.get(stack.portal + "/ecb/euro-fx-rates").text,
        base_url=stack.portal,
        syntaxes=["json-ld"],
    )["json-ld"][0]
    assert ecb["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert ecb["temporalCoverage"] == "2023-01-02/2024-05-15"
    assert ecb["keywords"] == ["finance", "currencies"]
    # The XSS dataset's title is data inside the JSON, never markup that closes the script.
    xss = extruct.extract(
        httpx.get(stack.portal + "/xss/payloads").text, base_url=stack.portal, syntaxes=["json-ld"]
    )["json-ld"][0]
    assert xss["name"] == "XSS payloads <img src=x onerror=\"window.__xss='title'\">"


SHAPE_FILES = ("dcat-ap-SHACL.ttl", "shapes.ttl", "range.ttl", "mdr-vocabularies.shape.ttl")


def _graph(text: str, fmt: str) -> Any:
    """The graph without its Hydra paging view (whose links name the format asked for)."""
    import rdflib

    graph = rdflib.Graph().parse(data=text, format=fmt)
    hydra = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
    for view in list(graph.subjects(rdflib.RDF.type, hydra.PartialCollectionView)):
        graph.remove((view, None, None))
    return graph


def dcat_ap_report(graph: Any) -> tuple[bool, str]:
    """pyshacl's verdict on ``graph`` against the vendored DCAT-AP 3.0.1 shapes."""
    import pyshacl
    import rdflib

    shapes = rdflib.Graph()
    for name in SHAPE_FILES:
        shapes.parse(SHAPES / name, format="turtle")
    conforms, _, report = pyshacl.validate(graph, shacl_graph=shapes, allow_warnings=True)
    return bool(conforms), str(report)


# rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib itself deprecates.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_dcat_catalogue_conforms_to_dcat_ap(stack: live.Stack) -> None:
    import rdflib
    from rdflib.compare import isomorphic

    jsonld = httpx.get(stack.portal + "/catalog.jsonld")
    turtle = httpx.get(stack.portal + "/catalog.ttl")
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    assert turtle.headers["content-type"].startswith("text/turtle")
    graph = _graph(jsonld.text, "json-ld")
    assert isomorphic(graph, _graph(turtle.text, "turtle"))
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    datasets = set(graph.subjects(rdflib.RDF.type, dcat.Dataset))
    assert {
        str(d).removeprefix(stack.portal + "/").removesuffix("#dataset") for d in datasets
    } >= set(dataset_ids(stack))
    conforms, report = dcat_ap_report(graph)
    # Warnings stay (e.g. a publisher that is no EU corporate body); no violation.
    assert conforms, report
