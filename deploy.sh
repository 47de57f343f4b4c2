#!/usr/bin/env bash
# Install Alertwrite into an Appwrite project: tables and topics, then the functions.
# Settings come from .env (see README): APPWRITE_ENDPOINT, APPWRITE_PROJECT_ID,
# APPWRITE_API_KEY and ALERTWRITE_WEBHOOK_TOKENS. Safe to run again: a second run changes nothing.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -f .env ]; then
  echo "deploy.sh: no .env here. Create one with APPWRITE_ENDPOINT, APPWRITE_PROJECT_ID," >&2
  echo "APPWRITE_API_KEY and ALERTWRITE_WEBHOOK_TOKENS (.venv/bin/alertwrite token makes a token)." >&2
  exit 2
fi
if [ ! -x .venv/bin/alertwrite ]; then
  echo "installing alertwrite into .venv" >&2
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi

# --yes answers the questions; it never allows a data-losing recreate or a prune by itself.
.venv/bin/alertwrite apply --yes
.venv/bin/alertwrite deploy --yes
