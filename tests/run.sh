#!/usr/bin/env bash
# The test command from the README: installs what the tests need, then runs every test.
#   tests/run.sh              all tests (unit, fake-backed, end to end with real Alertmanager/Prometheus)
#   tests/run.sh -k sqlite    any pytest arguments
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v prometheus >/dev/null || need+=(prometheus)
[ -x /usr/bin/chromium ] || need+=(chromium)  # the browser tests (tests/browser/); never `playwright install`
command -v openssl >/dev/null || need+=(openssl)  # certificates for the TLS test of channel sends
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "warning: ${need[*]} missing and not root; end-to-end tests will skip (CI=true makes them fail)" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" = 5 ]; then echo "no tests ran" >&2; fi
exit "$status"
