#!/usr/bin/env bash
# Build opendata-core's wheel, install it into a clean venv outside the workspace (dependencies
# from the package index) and validate an example file with it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
uv build --package opendata-core --wheel --out-dir "$work/dist" --quiet --project "$repo"
cd "$work"
uv venv --quiet --python python3 venv
uv pip install --quiet --python venv/bin/python "$work"/dist/opendata_core-*.whl
venv/bin/python - "$repo/examples/ecb-euro-fx-rates/opendata.yaml" <<'PY'
import sys
import opendata_core
assert "site-packages" in opendata_core.__file__, opendata_core.__file__
meta = opendata_core.load_metadata(sys.argv[1])
print(f"core wheel outside the workspace: {meta.id} ok")
PY
