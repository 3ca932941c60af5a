#!/usr/bin/env bash
# Test driver of the container_migrate role. It builds and installs the
# collection as users install it, checks that ansible-doc renders the role,
# and runs the Molecule scenario extensions/molecule/container_migrate.
# The scenario builds two SSH test hosts (tests/hosts/up.sh), moves
# containers between them through every case, and tears the hosts down
# (tests/hosts/down.sh). This script tears them down as well when anything
# fails or is interrupted.
#
# Usage (as root, after scripts/setup.sh): tests/migrate/run.sh
# Prints the downtime figures of the measured moves at the end.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${STATECRAFT_VENV:-$repo/.venv}
started=$(date +%s)

# A short path: podman's and sshd's files for both hosts live below it.
work=$(mktemp -d /tmp/sc-mig-XXXXXX)
hosts=$work/hosts

cleanup() {
    local status=$?
    bash "$repo/tests/hosts/down.sh" "$hosts" >/dev/null 2>&1 || status=1
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "=== build and install the collection"
"$venv/bin/ansible-galaxy" collection build "$repo" --output-path "$work" --force >/dev/null
"$venv/bin/ansible-galaxy" collection install "$work"/statecraft-podman-*.tar.gz \
    -p "$work/collections" --force >/dev/null

export ANSIBLE_COLLECTIONS_PATH=$work/collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export SC_MIG_HOSTS_DIR=$hosts
export SC_MIG_RESULTS=$work/downtime.txt
export PATH=$venv/bin:$PATH
export ANSIBLE_FORCE_COLOR=false
export PY_COLORS=0

echo "=== ansible-doc -t role statecraft.podman.container_migrate"
"$venv/bin/ansible-doc" -t role statecraft.podman.container_migrate >"$work/role-doc.txt"
grep -q container_migrate_containers "$work/role-doc.txt"
echo "ok"

echo "=== molecule test -s container_migrate"
(cd "$repo" && "$venv/bin/molecule" test -s container_migrate)

echo "=== downtime"
cat "$SC_MIG_RESULTS"
echo "=== container_migrate tests passed in $(( $(date +%s) - started )) s"
