#!/usr/bin/env bash
# The README's main job exactly as typed (`uv run od demo`), checked as a user would: it publishes
# the examples, starts the registry and the portal, and serves; we open the portal, load a dataset
# through the registry, then stop it the way a user does (Ctrl-C; SIGTERM here, handled the same).
set -euo pipefail
demo_home="$(mktemp -d)"
log="$demo_home/demo.out"
OPENDATA_HOME="$demo_home" uv run --locked od demo >"$log" 2>&1 &
pid=$!
# Whatever happens below, stop the demo (and with it the registry and the portal).
trap 'kill -TERM "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 400); do
    grep -q "^Serving until Ctrl-C" "$log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "od demo exited early"; exit 1; }
    sleep 1
done
grep -q "^Serving until Ctrl-C" "$log" || { cat "$log"; echo "od demo did not start serving"; exit 1; }
cat "$log"
portal="$(awk '/^Portal:/ {print $2}' "$log")"
registry="$(awk '/^Registry API:/ {print $3}' "$log")"
registry="${registry%/v1/datasets}"
curl -fsS "$portal/?q=exchange" -o "$demo_home/search.html"
grep -q "ecb/euro-fx-reference-rates" "$demo_home/search.html"
curl -fsS "$portal/ecb/euro-fx-reference-rates" -o "$demo_home/dataset.html"
grep -q "od.load" "$demo_home/dataset.html"
OPENDATA_REGISTRY="$registry" uv run --locked python -c \
    'import opendata as od; print(len(od.load("ecb/euro-fx-reference-rates")), "rows loaded through the registry")'
kill -TERM "$pid"
wait "$pid"
trap - EXIT
rm -rf "$demo_home"
echo "od demo: published, served the portal and the registry, stopped cleanly"
