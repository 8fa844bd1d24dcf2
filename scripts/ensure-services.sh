#!/usr/bin/env bash
# Install what crmkpi's tests and demo need (redis-server, python3-venv) if missing,
# with apt-get (Debian/Ubuntu; as root, or through sudo).
# Idempotent: installs nothing when everything is there. Starts nothing: the test
# fixtures run private Redis instances on free ports.
#   CRMKPI_WITH_PROMETHEUS=1  also install prometheus and prometheus-alertmanager.
#   CRMKPI_WITH_CHROMIUM=1    also install chromium (the scorecard's browser tests drive it).
set -euo pipefail

packages=()
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
# Debian's python3 needs python3-venv for `python3 -m venv` (make venv).
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || packages+=(python3-venv)
if [[ "${CRMKPI_WITH_PROMETHEUS:-0}" == 1 ]]; then
    command -v prometheus >/dev/null 2>&1 || packages+=(prometheus)
    command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 \
        || packages+=(prometheus-alertmanager)
fi
if [[ "${CRMKPI_WITH_CHROMIUM:-0}" == 1 ]]; then
    [[ -x /usr/bin/chromium ]] || packages+=(chromium)
fi

if ((${#packages[@]} == 0)); then
    echo "ensure-services: nothing to install (redis-server: $(command -v redis-server))"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-services: please install ${packages[*]} (no apt-get here)" >&2
    exit 1
fi
sudo=()
if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || {
        echo "ensure-services: run as root to install ${packages[*]}" >&2
        exit 1
    }
    sudo=(sudo)
fi

echo "ensure-services: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
# The Debian packages start system services where systemd runs; the tests do not use them.
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
echo "ensure-services: installed ${packages[*]}"
