"""What machines read: schema.org ``Dataset`` JSON-LD, Croissant, a DCAT-AP 3 catalogue, sitemaps.

- Every dataset page embeds :func:`dataset_jsonld` (what Google Dataset Search reads).
- ``/{ns}/{name}/croissant.json`` is :func:`croissant` (MLCommons Croissant 1.1): one
  ``FileObject`` per Parquet shard with its SHA-256, and one ``RecordSet`` whose fields carry the
  schema's types. A one-shard dataset's fields read that file; with several shards they read a
  ``FileSet`` of them (mlcroissant 1.1 reads a ``FileSet`` only from a local folder or git, so it
  loads the records of one-shard datasets over HTTP; decision 0010).
- ``/catalog.jsonld`` and ``/catalog.ttl`` are :func:`catalog_nodes` (DCAT-AP 3: ``dcat:Catalog``
  → ``dcat:Dataset`` → ``dcat:Distribution``), paged with Hydra's ``PartialCollectionView``.
- ``/sitemap.xml`` and ``robots.txt``.

Shard URLs are the portal's own stable ``/{ns}/{name}/-/parts/<sha256>.parquet``, which redirect
to a fresh signed URL from the registry: a signed URL expires, a description must not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final
from xml.sax.saxutils import escape as xml_escape

from opendata_core.api import DatasetDetail, DownloadResponse
from opendata_core.documents import Field, IndexEntry
from opendata_portal.rdf import IRI, Literal, Node
from opendata_portal.render import spdx_url

__all__ = [
    "CATALOG_PREFIXES",
    "PARQUET_MEDIA_TYPE",
    "catalog_nodes",
    "croissant",
    "dataset_jsonld",
    "export_url",
    "robots_txt",
    "shard_url",
    "sitemap_index",
    "sitemap_urls",
]

PARQUET_MEDIA_TYPE: Final = "application/vnd.apache.parquet"
"""IANA's type for Parquet (registered 2024); Croissant still names it ``application/x-parquet``."""
_CROISSANT_PARQUET: Final = "application/x-parquet"

CATALOG_PREFIXES: Final = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "hydra": "http://www.w3.org/ns/hydra/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_EU: Final = "http://publications.europa.eu/resource/authority/"
_FILE_TYPE: Final = _EU + "file-type/PARQUET"
_FREQUENCY: Final = _EU + "frequency/"
# opendata.yaml's frequency words → the EU frequency vocabulary DCAT-AP asks for.
_FREQUENCIES: Final = {
    "hourly": "HOURLY",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "yearly": "ANNUAL",
    "annual": "ANNUAL",
    "annually": "ANNUAL",
}

# The context every Croissant 1.1 file carries (the spec's, as Hugging Face and Kaggle write it).
_CROISSANT_CONTEXT: Final = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "sdVersion": "cr:sdVersion",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def _licence_iri(license_id: str) -> str | None:
    # The SPDX licence IRI as SPDX's own RDF names it (its page without ``.html``).
    page = spdx_url(license_id)
    return page.removesuffix(".html").replace("https://", "http://", 1) if page else None


def shard_url(base: str, dataset_id: str, sha256: str) -> str:
    """The portal's stable URL of one shard (it redirects to a fresh signed URL)."""
    return f"{base}/{dataset_id}/-/parts/{sha256}.parquet"


def export_url(base: str, dataset_id: str, fmt: str, version: str | None = None) -> str:
    """The portal's stable URL of the registry's one-file export (it redirects to a signed one)."""
    return f"{base}/{dataset_id}/-/export.{fmt}" + (f"?version={version}" if version else "")


def _kind(arrow_type: str) -> str:
    """schema.org's type for an Arrow type string (``str(pyarrow.DataType)``)."""
    t = arrow_type.lower()
    if t.startswith(("int", "uint")):
        return "sc:Integer"
    if t.startswith(("float", "double", "halffloat", "decimal")):
        return "sc:Float"
    if t == "bool":
        return "sc:Boolean"
    if t.startswith("date"):
        return "sc:Date"
    if t.startswith("timestamp"):
        return "sc:DateTime"
    return "sc:Text"


def _temporal(min_time: str | None, max_time: str | None) -> str | None:
    if not min_time and not max_time:
        return None
    return f"{(min_time or '..')[:10]}/{(max_time or '..')[:10]}"


def _iso(when: datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dataset_jsonld(detail: DatasetDetail, base: str, *, citation: str | None) -> dict[str, Any]:
    """schema.org ``Dataset`` for a dataset page (``<script type="application/ld+json">``)."""
    meta, man = detail.metadata.dataset, detail.manifest
    ns = detail.id.split("/", 1)[0]
    page = f"{base}/{detail.id}"
    doc: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": page,
        "name": meta.title,
        "description": meta.description or meta.title,
        "url": page,
        "identifier": detail.id,
        "version": man.publish_id,
        "dateModified": _iso(man.published_at),
        "isAccessibleForFree": True,
        "keywords": list(meta.topics),
        "creator": {"@type": "Organization", "name": meta.source.provider or ns},
        "publisher": {"@type": "Organization", "name": ns, "url": f"{base}/{ns}"},
        "includedInDataCatalog": {"@type": "DataCatalog", "name": "OpenData", "url": base + "/"},
        "distribution": [
            {
                "@type": "DataDownload",
                "name": f"{detail.id} (Parquet)",
                "encodingFormat": PARQUET_MEDIA_TYPE,
                "contentUrl": f"{page}/-/download.parquet",
                "contentSize": f"{man.bytes} B",
            },
            {
                "@type": "DataDownload",
                "name": f"{detail.id} (CSV)",
                "encodingFormat": "text/csv",
                "contentUrl": export_url(base, detail.id, "csv"),
            },
            {
                "@type": "DataDownload",
                "name": f"{detail.id} (Croissant)",
                "encodingFormat": "application/ld+json",
                "contentUrl": f"{page}/croissant.json",
            },
        ],
    }
    licence = spdx_url(meta.license)
    if licence:
        doc["license"] = licence
    elif meta.license:
        doc["license"] = {"@type": "CreativeWork", "name": meta.license}
    temporal = _temporal(man.min_time, man.max_time)
    if temporal:
        doc["temporalCoverage"] = temporal
    if citation:
        doc["citation"] = citation
    source = meta.source.dataset or meta.source.homepage
    if source:
        doc["isBasedOn"] = source
    return doc


def _field(record_set: str, f: Field, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "@type": "cr:Field",
        "@id": f"{record_set}/{f.name}",
        "name": f.name,
        "description": f"{f.name} ({f.type}{'' if f.nullable else ', never null'})",
        "dataType": _kind(f.type),
        "source": {**source, "extract": {"column": f.name}},
    }


def croissant(
    detail: DatasetDetail, download: DownloadResponse, base: str, *, citation: str
) -> dict[str, Any]:
    """The Croissant 1.1 description of the current version of a dataset."""
    meta, manifest = detail.metadata.dataset, download.manifest
    name = detail.id.split("/", 1)[1]
    page = f"{base}/{detail.id}"
    files: list[dict[str, Any]] = [
        {
            "@type": "cr:FileObject",
            "@id": f"parquet-{shard.partition}",
            "name": f"parquet-{shard.partition}",
            "description": f"rows of partition {shard.partition} ({shard.rows} rows)",
            "contentUrl": shard_url(base, detail.id, shard.sha256),
            "contentSize": f"{shard.bytes} B",
            "encodingFormat": _CROISSANT_PARQUET,
            "sha256": shard.sha256,
        }
        for shard in manifest.shards
    ]
    source: dict[str, Any]
    live = False
    if len(files) == 1:
        source = {"fileObject": {"@id": files[0]["@id"]}}
    else:
        files.append(
            {
                "@type": "cr:FileSet",
                "@id": "parquet-shards",
                "name": "parquet-shards",
                "description": "every shard of this version, in time order",
                "containedIn": [{"@id": f["@id"]} for f in files],
                "encodingFormat": _CROISSANT_PARQUET,
                "includes": "*",
            }
        )
        source = {"fileSet": {"@id": "parquet-shards"}}
        if download.exports:
            # mlcroissant 1.1.1 never reads a FileSet contained in FileObjects over HTTP, so the
            # fields read the registry's one-file export of this version (decision 0010). Made
            # on demand, it has no checksum to publish: a live dataset, as Croissant allows.
            files.append(
                {
                    "@type": "cr:FileObject",
                    "@id": "parquet-rows",
                    "name": "parquet-rows",
                    "description": "every row of this version in one Parquet file, made by the "
                    "registry from the shards above",
                    "contentUrl": export_url(base, detail.id, "parquet", manifest.publish_id),
                    "encodingFormat": _CROISSANT_PARQUET,
                }
            )
            source = {"fileObject": {"@id": "parquet-rows"}}
            live = True
    record_set = {
        "@type": "cr:RecordSet",
        "@id": name,
        "name": name,
        "description": f"the rows of {detail.id}",
        "field": [_field(name, f, source) for f in manifest.schema],
    }
    if manifest.primary_key:
        record_set["key"] = [{"@id": f"{name}/{k}"} for k in manifest.primary_key]
    doc: dict[str, Any] = {
        "@context": _CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.1",
        "name": detail.id.replace("/", "__"),
        "alternateName": meta.title,
        "description": meta.description or meta.title,
        "url": page,
        "version": manifest.publish_id,
        "datePublished": _iso(manifest.published_at),
        "citeAs": citation,
        "creator": {"@type": "sc:Organization", "name": meta.source.provider or detail.id},
        "keywords": list(meta.topics),
        "distribution": files,
        "recordSet": [record_set],
    }
    if live:
        doc["isLiveDataset"] = True
    doc["license"] = spdx_url(meta.license) or meta.license or "unspecified"
    temporal = _temporal(manifest.min_time, manifest.max_time)
    if temporal:
        doc["temporalCoverage"] = temporal
    return doc


def _entry_nodes(entry: IndexEntry, base: str) -> tuple[Node, list[Node]]:
    """A ``dcat:Dataset`` and the nodes it points to by IRI (publisher, frequency, licence)."""
    page = f"{base}/{entry.id}"
    ns = entry.namespace
    extra: list[Node] = []
    publisher = Node(f"{base}/{ns}", ["foaf:Agent"], [("foaf:name", Literal(ns))])
    extra.append(publisher)
    distribution = Node(
        f"{page}#parquet",
        ["dcat:Distribution"],
        [
            ("dct:title", Literal(f"{entry.id} as Parquet", lang="en")),
            ("dcat:accessURL", IRI(page)),
            ("dct:format", IRI(_FILE_TYPE)),
            (
                "dcat:mediaType",
                IRI(f"http://www.iana.org/assignments/media-types/{PARQUET_MEDIA_TYPE}"),
            ),
            ("dcat:byteSize", Literal(str(entry.bytes), datatype="xsd:nonNegativeInteger")),
        ],
    )
    # The EU vocabularies' concepts, with the scheme DCAT-AP's vocabulary shapes check.
    extra.append(
        Node(_FILE_TYPE, ["dct:MediaTypeOrExtent"], [("skos:inScheme", IRI(_EU + "file-type"))])
    )
    extra.append(
        Node(f"http://www.iana.org/assignments/media-types/{PARQUET_MEDIA_TYPE}", ["dct:MediaType"])
    )
    licence = _licence_iri(entry.license)
    if licence:
        distribution.props.append(("dct:license", IRI(licence)))
        extra.append(Node(licence, ["dct:LicenseDocument"]))
    elif entry.license:
        distribution.props.append(
            (
                "dct:license",
                Node(None, ["dct:LicenseDocument"], [("rdfs:label", Literal(entry.license))]),
            )
        )
    dataset = Node(
        f"{page}#dataset",
        ["dcat:Dataset"],
        [
            ("dct:identifier", Literal(entry.id)),
            ("dct:title", Literal(entry.title, lang="en")),
            ("dct:description", Literal(entry.description or entry.title, lang="en")),
            ("dct:publisher", IRI(publisher.id or "")),
            ("dcat:landingPage", IRI(page)),
            ("dcat:distribution", distribution),
        ],
    )
    extra.append(Node(page, ["foaf:Document"]))
    for topic in entry.topics:
        dataset.props.append(("dcat:keyword", Literal(topic, lang="en")))
    if entry.updated_at is not None:
        dataset.props.append(
            ("dct:modified", Literal(_iso(entry.updated_at), datatype="xsd:dateTime"))
        )
    if entry.min_time or entry.max_time:
        period = Node(None, ["dct:PeriodOfTime"])
        if entry.min_time:
            period.props.append(
                ("dcat:startDate", Literal(entry.min_time[:10], datatype="xsd:date"))
            )
        if entry.max_time:
            period.props.append(("dcat:endDate", Literal(entry.max_time[:10], datatype="xsd:date")))
        dataset.props.append(("dct:temporal", period))
    frequency = _FREQUENCIES.get((entry.frequency or "").lower())
    if frequency:
        dataset.props.append(("dct:accrualPeriodicity", IRI(_FREQUENCY + frequency)))
        extra.append(
            Node(
                _FREQUENCY + frequency,
                ["dct:Frequency"],
                [("skos:inScheme", IRI(_EU + "frequency"))],
            )
        )
    return dataset, extra


def catalog_nodes(
    entries: Sequence[IndexEntry], base: str, *, page: int, last_page: int, total: int, ext: str
) -> list[Node]:
    """One page of the DCAT-AP catalogue: the catalogue, its datasets and a Hydra view.

    ``ext`` is ``jsonld`` or ``ttl``: the paging links stay in the format asked for.
    """
    catalog = Node(
        f"{base}/catalog",
        ["dcat:Catalog"],
        [
            ("dct:title", Literal("OpenData", lang="en")),
            (
                "dct:description",
                Literal(
                    "Open datasets published from their producers' own repositories, "
                    "as checksummed Parquet.",
                    lang="en",
                ),
            ),
            ("dct:publisher", IRI(f"{base}/#operator")),
            ("foaf:homepage", IRI(base + "/")),
        ],
    )
    nodes = [
        catalog,
        Node(f"{base}/#operator", ["foaf:Agent"], [("foaf:name", Literal("OpenData"))]),
    ]
    nodes.append(Node(base + "/", ["foaf:Document"]))
    seen: set[str | None] = {n.id for n in nodes}
    for entry in entries:
        dataset, extra = _entry_nodes(entry, base)
        catalog.props.append(("dcat:dataset", IRI(dataset.id or "")))
        nodes.append(dataset)
        for node in extra:
            if node.id not in seen:
                seen.add(node.id)
                nodes.append(node)

    def page_iri(n: int) -> str:
        return f"{base}/catalog.{ext}?page={n}"

    view = Node(
        page_iri(page),
        ["hydra:PartialCollectionView"],
        [
            ("hydra:first", IRI(page_iri(1))),
            ("hydra:last", IRI(page_iri(last_page))),
            ("hydra:totalItems", Literal(str(total), datatype="xsd:nonNegativeInteger")),
        ],
    )
    if page > 1:
        view.props.append(("hydra:previous", IRI(page_iri(page - 1))))
    if page < last_page:
        view.props.append(("hydra:next", IRI(page_iri(page + 1))))
    nodes.append(view)
    return nodes


def sitemap_index(base: str, pages: int) -> str:
    """``/sitemap.xml``: one child sitemap per page of datasets (each ≤ 50,000 URLs)."""
    items = "".join(
        f"<sitemap><loc>{xml_escape(f'{base}/sitemap.xml?page={n}')}</loc></sitemap>\n"
        for n in range(1, pages + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{items}</sitemapindex>\n"
    )


def sitemap_urls(base: str, entries: Sequence[IndexEntry], *, home: bool) -> str:
    """One sitemap: the dataset pages with their last update (and the home page on page 1)."""
    rows = [f"<url><loc>{xml_escape(base + '/')}</loc></url>\n"] if home else []
    for e in entries:
        last = f"<lastmod>{_iso(e.updated_at)}</lastmod>" if e.updated_at else ""
        rows.append(f"<url><loc>{xml_escape(f'{base}/{e.id}')}</loc>{last}</url>\n")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{''.join(rows)}</urlset>\n"
    )


def robots_txt(base: str) -> str:
    """Crawlers may read every page; shard redirects are not pages (and cost downloads)."""
    return (
        "User-agent: *\n"
        "Allow: /\n"
        "Disallow: /*/-/parts/\n"
        "Disallow: /*/-/download.parquet\n"
        f"Sitemap: {base}/sitemap.xml\n"
    )
