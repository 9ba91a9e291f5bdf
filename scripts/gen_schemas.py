"""Write the JSON Schemas of the wire documents to docs/schemas/ (``msgspec.json.schema``).

Run: ``uv run python scripts/gen_schemas.py``; tests/core/test_schemas.py fails when they are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec

from opendata_core.documents import Index, Manifest, MetadataDocument, RunRecord
from opendata_core.lifecycle import Lifecycle

DOCUMENTS = {
    "manifest.schema.json": Manifest,
    "metadata.schema.json": MetadataDocument,
    "index.schema.json": Index,
    "run-record.schema.json": RunRecord,
    "lifecycle.schema.json": Lifecycle,
}
OUT = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def render(document: type) -> str:
    """The schema of one document as the committed file holds it."""
    return json.dumps(msgspec.json.schema(document), indent=2, sort_keys=True) + "\n"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, document in DOCUMENTS.items():
        (OUT / name).write_text(render(document), encoding="utf-8")
        print(f"wrote docs/schemas/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
