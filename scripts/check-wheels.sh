#!/usr/bin/env bash
# Build the wheels and use them outside the workspace, in clean venvs (dependencies from the
# package index): opendata-core alone validates an example; opendata-core + client + cli publish
# and load a dataset with `od` and `import opendata`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for package in opendata-core opendata-client opendata-cli opendata-registry opendata-portal; do
    uv build --package "$package" --wheel --out-dir "$work/dist" --quiet --project "$repo"
done
cd "$work"

uv venv --quiet --python python3 core
uv pip install --quiet --python core/bin/python dist/opendata_core-*.whl
core/bin/python - "$repo/examples/ecb-euro-fx-rates/opendata.yaml" <<'PY'
import sys
import opendata_core
assert "site-packages" in opendata_core.__file__, opendata_core.__file__
from importlib.metadata import version
assert opendata_core.__version__ == version("opendata-core"), opendata_core.__version__
meta = opendata_core.load_metadata(sys.argv[1])
print(f"opendata-core wheel outside the workspace: {meta.id} ok")
PY

uv venv --quiet --python python3 full
uv pip install --quiet --python full/bin/python dist/opendata_core-*.whl dist/opendata_client-*.whl dist/opendata_cli-*.whl
export OPENDATA_HOME="$work/home"
test "$(full/bin/od --version)" = "od, version $(full/bin/python -c 'import opendata_cli; print(opendata_cli.__version__)')"
full/bin/od validate "$repo/examples/ecb-euro-fx-rates/opendata.yaml"
full/bin/python -c 'import pandas as pd; pd.DataFrame({"date": pd.date_range("2024-01-01", periods=10).date, "v": range(10)}).to_parquet("x.parquet")'
full/bin/od push x.parquet me/wheel-check --time-column date
full/bin/python - <<'PY'
import opendata as od
assert "site-packages" in od.__file__, od.__file__
from importlib.metadata import version
import opendata_cli
assert od.__version__ == version("opendata-client"), od.__version__
assert opendata_cli.__version__ == version("opendata-cli"), opendata_cli.__version__
df = od.load("me/wheel-check", start="2024-01-05")
assert len(df) == 6, df
print("opendata-client + opendata-cli wheels outside the workspace: push and load ok")
PY
