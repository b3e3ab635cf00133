#!/usr/bin/env bash
# Install Banyan into a virtualenv, build the demo chain on the embedded SQLite database
# (instance/banyan.sqlite) and serve the back office and API on http://127.0.0.1:5000/.
#
#   scripts/demo.sh                     # every built-in addon, default scale
#   BANYAN_DEMO_ARGS="--scale 0.2" scripts/demo.sh
#   BANYAN_PORT=8000 scripts/demo.sh
#
# Re-running keeps the existing demo database; delete instance/ to start again.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${BANYAN_VENV:-$PWD/.venv}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q -e .
BANYAN="$VENV/bin/banyan"

if [[ ! -f instance/banyan.sqlite || -n "${BANYAN_DATABASE_URL:-}" ]]; then
  # shellcheck disable=SC2086
  "$BANYAN" demo ${BANYAN_DEMO_ARGS:-}
else
  echo "instance/banyan.sqlite exists: keeping the demo data (delete instance/ to rebuild it)"
fi
exec "$BANYAN" serve --host "${BANYAN_HOST:-127.0.0.1}" --port "${BANYAN_PORT:-5000}"
