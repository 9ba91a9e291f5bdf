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

# pip install opendata-cli → data (issue 23 §2), from an empty folder far from any checkout: the
# first od.load names the command that fills the store; that exact command publishes the
# examples that come with the wheel (package data), and od.load then works.
export OPENDATA_HOME="$work/demo-home"
mkdir "$work/empty"
cd "$work/empty"
command="$("$work/full/bin/python" - <<'PY'
import re
import opendata as od
try:
    od.load("ecb/euro-fx-reference-rates")
except od.DatasetNotFound as exc:
    print(re.search(r"run `([^`]+)` in a shell", exc.hint).group(1))
else:
    raise SystemExit("od.load found data in an empty OPENDATA_HOME")
PY
)"
test "$command" = "OPENDATA_HOME=$OPENDATA_HOME od demo --no-serve" || { echo "unexpected: $command"; exit 1; }
PATH="$work/full/bin:$PATH" eval "$command" >"$work/demo.out" 2>&1 || { cat "$work/demo.out"; exit 1; }
grep -q "^5 of 5 published" "$work/demo.out" || { cat "$work/demo.out"; exit 1; }
test -z "$(ls -A "$work/empty")" || { echo "od demo wrote into the current folder:"; ls -A; exit 1; }
"$work/full/bin/python" - "$repo/examples" <<'PY'
import sys
from pathlib import Path
import opendata as od
import opendata_cli.commands.demo as demo
shipped = demo.shipped_examples()
assert shipped is not None and "site-packages" in str(shipped), shipped
def files(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
assert files(shipped) == files(Path(sys.argv[1])), "the wheel's examples differ from examples/"
df = od.load("ecb/euro-fx-reference-rates", start="2025-01-01")
assert len(df) > 0, df
print(f"opendata-cli wheel: od demo --no-serve from an empty folder, then od.load: {len(df)} rows")
PY
cd "$work"

# A consumer with opendata-client alone is told to install the CLI first.
uv venv --quiet --python python3 client
uv pip install --quiet --python client/bin/python dist/opendata_core-*.whl dist/opendata_client-*.whl
OPENDATA_HOME="$work/client-home" client/bin/python - <<'PY'
import opendata as od
try:
    od.load("ecb/euro-fx-reference-rates")
except od.DatasetNotFound as exc:
    assert "pip install opendata-cli && " in exc.hint, exc.hint
    print("opendata-client wheel alone: the empty store's hint installs opendata-cli first")
PY
