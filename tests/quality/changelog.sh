#!/usr/bin/env bash
# Write CHANGELOG.rst from changelogs/changelog.yaml and the fragments in
# changelogs/fragments, as the next release (galaxy.yml's version) will read.
#
# The collection has not been released: its fragments stay in
# changelogs/fragments, and changelogs/changelog.yaml lists no release, until
# the release itself ("antsibull-changelog release"). Until then this script
# runs that release in a temporary copy and keeps only its CHANGELOG.rst, so
# CHANGELOG.rst always shows what the coming release brings.
#
# Usage: tests/quality/changelog.sh           write CHANGELOG.rst
#        tests/quality/changelog.sh --check   fail when CHANGELOG.rst is out of date
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${STATECRAFT_VENV:-$repo/.venv}
work=$(mktemp -d /tmp/statecraft-changelog.XXXXXX)
trap 'rm -rf "$work"' EXIT

version=$(awk '$1 == "version:" { print $2 }' "$repo/galaxy.yml")
copy=$work/ansible_collections/statecraft/podman
mkdir -p "$copy"
tar -C "$repo" -c galaxy.yml changelogs plugins roles meta | tar -C "$copy" -x
rm -f "$copy/changelogs/.plugin-cache.yaml"
# antsibull-changelog finds modules and roles with ansible-doc, which must see
# this copy as the collection.
(cd "$copy" && PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$work" \
  antsibull-changelog release --version "$version" --date 2000-01-01 >/dev/null)

if [ "${1:-}" = --check ]; then
  if ! diff -u "$repo/CHANGELOG.rst" "$copy/CHANGELOG.rst"; then
    echo "CHANGELOG.rst is out of date: run tests/quality/changelog.sh and commit it"
    exit 1
  fi
  echo "CHANGELOG.rst matches the changelog fragments ($version)"
else
  cp "$copy/CHANGELOG.rst" "$repo/CHANGELOG.rst"
  echo "wrote CHANGELOG.rst ($version, from $(find "$repo/changelogs/fragments" -name "*.yml" | wc -l) fragments)"
fi
