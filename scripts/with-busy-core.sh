#!/usr/bin/env bash
# Run a command while one busy-loop process keeps one CPU core busy (issue 22:
# the test suite must pass on a loaded machine). The busy loop is stopped when the
# command ends, however it ends; it also ends by itself if this script is killed
# (it spins only while its parent is this script).
#   scripts/with-busy-core.sh .venv/bin/pytest -q -m integration
set -euo pipefail

python3 -c '
import os
parent = os.getppid()
while os.getppid() == parent:
    pass
' &
busy=$!
trap 'kill "$busy" 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "with-busy-core: busy loop $busy keeps one core busy while: $*" >&2
"$@"
