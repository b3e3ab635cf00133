#!/usr/bin/env bash
# Install Banyan into a virtualenv and run the whole test suite on SQLite and on PostgreSQL.
#
#   scripts/test.sh                 # both databases
#   scripts/test.sh sqlite          # only the embedded default
#   scripts/test.sh postgres        # only PostgreSQL
#   scripts/test.sh all -k refund   # extra arguments go to pytest
#
# Environment: BANYAN_VENV (default .venv), BANYAN_PG_URL (default
# postgresql+psycopg://postgres@127.0.0.1/postgres; a fresh database is created per addon set),
# BANYAN_FRESH_VENV=1 to recreate the virtualenv, BANYAN_SKIP_INSTALL=1 to reuse it as is,
# BANYAN_SERIAL=1 to run the two databases one after the other instead of side by side.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${BANYAN_VENV:-$ROOT/.venv}
PG_URL=${BANYAN_PG_URL:-postgresql+psycopg://postgres@127.0.0.1/postgres}
WHICH=${1:-all}
case "$WHICH" in
  all|sqlite|postgres) shift || true ;;
  *) WHICH=all ;;
esac

log() { printf '\n== %s\n' "$*"; }

if [[ "${BANYAN_FRESH_VENV:-0}" == 1 && -d "$VENV" ]]; then
  rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

if [[ "${BANYAN_SKIP_INSTALL:-0}" != 1 ]]; then
  log "installing banyan-erp[test] (editable)"
  "$PY" -m pip install -q -e '.[test]'
  if [[ -f examples/banyan-addon-giftcard/setup.cfg || -f examples/banyan-addon-giftcard/pyproject.toml || -f examples/banyan-addon-giftcard/setup.py ]]; then
    log "installing the example addon examples/banyan-addon-giftcard (editable)"
    "$PY" -m pip install -q -e examples/banyan-addon-giftcard
  fi
fi

# test folders: the kernel's, the built-in addons' and the example addon's
PATHS=(tests addons)
[[ -d examples/banyan-addon-giftcard ]] && PATHS+=(examples/banyan-addon-giftcard)

run_pytest() {  # name, extra pytest args...
  local name=$1; shift
  log "tests on $name"
  local rc=0
  "$PY" -m pytest "${PATHS[@]}" -q -p no:cacheprovider --durations=10 -rfER "$@" || rc=$?
  if [[ $rc == 5 ]]; then
    echo "error: pytest collected no test on $name" >&2
  fi
  return $rc
}

pg_reachable() {
  "$PY" - "$PG_URL" <<'PYEOF'
import sys
from sqlalchemy import create_engine, text
try:
    with create_engine(sys.argv[1]).connect() as c:
        c.execute(text("select 1"))
except Exception as exc:  # noqa: BLE001
    sys.exit(f"error: PostgreSQL is not reachable at {sys.argv[1]}: {exc}")
PYEOF
}

# Both databases: the two runs go side by side (BANYAN_SERIAL=1 runs them one after the
# other). They share nothing: each run has its own temporary instance folders, SQLite files or
# PostgreSQL databases, and ports picked free. The SQLite run writes to a log printed when it
# ends; the PostgreSQL run prints as it goes.
# Browser tests: side by side, the SQLite run drives Chromium first and the PostgreSQL run last,
# so two Chromiums, two servers and two pytests do not share the two cores at once. A failed
# browser test runs once more (reported as R in the summary); one failing twice fails the run.
BROWSER_FIRST="--browser-reruns 1 --rerun-show-tracebacks"
BROWSER_LAST="--browser-reruns 1 --rerun-show-tracebacks"
if [[ $WHICH == all && "${BANYAN_SERIAL:-0}" != 1 ]]; then
  BROWSER_FIRST+=" --browser-tests first"
  BROWSER_LAST+=" --browser-tests last"
fi
declare -A RESULT=()
STATUS=0
SQLITE_PID=""
SQLITE_LOG=""
if [[ $WHICH == all || $WHICH == sqlite ]]; then
  if [[ $WHICH == all && "${BANYAN_SERIAL:-0}" != 1 ]]; then
    SQLITE_LOG=$(mktemp "${TMPDIR:-/tmp}/banyan-sqlite-run.XXXXXX")
    log "tests on sqlite: started beside the PostgreSQL run (its output follows when it ends)"
    ( run_pytest sqlite $BROWSER_FIRST "$@" ) >"$SQLITE_LOG" 2>&1 &
    SQLITE_PID=$!
  else
    rc=0; run_pytest sqlite $BROWSER_FIRST "$@" || rc=$?
    RESULT[sqlite]=$rc; [[ $rc == 0 ]] || STATUS=1
  fi
fi
if [[ $WHICH == all || $WHICH == postgres ]]; then
  if ! pg_reachable; then
    RESULT[postgres]=unreachable; STATUS=1
  else
    rc=0; run_pytest postgres --db-url "$PG_URL" $BROWSER_LAST "$@" || rc=$?
    RESULT[postgres]=$rc; [[ $rc == 0 ]] || STATUS=1
  fi
fi
if [[ -n $SQLITE_PID ]]; then
  rc=0; wait "$SQLITE_PID" || rc=$?
  cat "$SQLITE_LOG"; rm -f "$SQLITE_LOG"
  RESULT[sqlite]=$rc; [[ $rc == 0 ]] || STATUS=1
fi

summary="test.sh summary:"
for db in sqlite postgres; do
  [[ -n "${RESULT[$db]:-}" ]] || continue
  if [[ "${RESULT[$db]}" == 0 ]]; then summary+=" $db=ok"; else summary+=" $db=FAILED(${RESULT[$db]})"; fi
done
echo
echo "$summary"
exit $STATUS
