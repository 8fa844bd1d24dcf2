#!/bin/sh
# Refresh constraints.txt, the exact versions the Docker image installs, from
# pyproject.toml's ranges (run with the image's Python minor, 3.11, on Linux):
#   scripts/lock-image.sh
# Commit the result; the Dockerfile builds with `--constraint constraints.txt`.
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
"$PYTHON" -m pip install --quiet --dry-run --ignore-installed --report "$report" . >/dev/null
"$PYTHON" - "$report" > constraints.txt <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
pins = sorted(
    (item["metadata"]["name"].lower(), item["metadata"]["version"])
    for item in report["install"]
    if item["metadata"]["name"] != "crmkpi"
)
print("# The image's exact dependency versions: refresh with scripts/lock-image.sh")
for name, version in pins:
    print(f"{name}=={version}")
PY
echo "constraints.txt: $(grep -c '==' constraints.txt) pinned packages"
