#!/usr/bin/env bash
# Reproduces vendor/appwrite.iife.js from the npm package named in appwrite.lock.
#   vendor/update.sh            fetch the locked version and write the file
#   vendor/update.sh 25.0.1     move the lock to another version
#   vendor/update.sh --check    fail unless the vendored file is byte-equal to the package's build
# The page loads the SDK's own IIFE build (dist/iife/sdk.js, json-bigint bundled in) as a classic
# script, so there is no build step and no Node at run time. Only npm's ordinary client is used.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/appwrite.lock"
mode=write
version="$(sed -n 's/^version=//p' "$lock")"
case "${1:-}" in
  --check) mode=check ;;
  "") ;;
  *) version="$1" ;;
esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "appwrite@$version" >/dev/null)
integrity="$(cd "$work" && npm view --silent "appwrite@$version" dist.integrity)"
tar -xzf "$work/appwrite-$version.tgz" -C "$work" package/dist/iife/sdk.js
built="$work/package/dist/iife/sdk.js"
sha="$(sha256sum "$built" | cut -d' ' -f1)"
if [ "$mode" = check ]; then
  want_sha="$(sed -n 's/^sha256=//p' "$lock")"
  if [ "$sha" != "$want_sha" ] || ! cmp -s "$built" "$here/appwrite.iife.js"; then
    echo "vendor/appwrite.iife.js does not match appwrite@$version from npm: run sites/alert-console/vendor/update.sh" >&2
    exit 1
  fi
  echo "vendor/appwrite.iife.js matches appwrite@$version ($sha)"
  exit 0
fi
cp "$built" "$here/appwrite.iife.js"
printf 'version=%s\nintegrity=%s\nsha256=%s\n' "$version" "$integrity" "$sha" > "$lock"
echo "vendored appwrite@$version dist/iife/sdk.js ($sha)"
