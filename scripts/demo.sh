#!/usr/bin/env bash
# Set up this machine (see scripts/setup.sh) and run the demo playbook: a counting
# container is checkpointed to an archive, restored under a new name, and keeps counting.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/setup.sh"

venv=${STATECRAFT_VENV:-$repo/.venv}
work=$(mktemp -d /tmp/statecraft-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/collections/ansible_collections/statecraft"
ln -s "$repo" "$work/collections/ansible_collections/statecraft/podman"

ANSIBLE_COLLECTIONS_PATH="$work/collections" \
ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python" \
ANSIBLE_LOCALHOST_WARNING=false \
ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
  "$venv/bin/ansible-playbook" -i localhost, -c local "$repo/playbooks/demo.yml" \
  -e demo_podman=/opt/statecraft/bin/podman -e "demo_workdir=$work/archives" "$@"
