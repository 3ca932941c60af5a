#!/usr/bin/env bash
# Run the integration targets against every Podman that scripts/setup.sh installed,
# with the collection built and installed the way users install it.
#
# Usage: tests/integration/run.sh [--podman WRAPPER] [-e VAR=VALUE] [TARGET ...]
#   TARGET   names under tests/integration/targets (default: all of them)
#   --podman run only against this podman executable instead of each line of
#            /opt/statecraft/podman-versions
#   -e       an extra variable for every target run, as ansible-playbook -e
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${STATECRAFT_VENV:-$repo/.venv}
versions_file=/opt/statecraft/podman-versions
podmans=()
targets=()
extra_vars=()
while [ $# -gt 0 ]; do
  case "$1" in
    --podman) podmans+=("$2"); shift 2 ;;
    -e) extra_vars+=(-e "$2"); shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#podmans[@]} -eq 0 ]; then
  mapfile -t podmans < "$versions_file"
fi
if [ ${#targets[@]} -eq 0 ]; then
  for dir in "$repo"/tests/integration/targets/*/; do
    targets+=("$(basename "$dir")")
  done
fi

work=$(mktemp -d /tmp/statecraft-integration.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Build the collection tarball and install it, as a user would.
"$venv/bin/ansible-galaxy" collection build "$repo" --output-path "$work" --force >/dev/null
"$venv/bin/ansible-galaxy" collection install "$work"/statecraft-podman-*.tar.gz \
  -p "$work/collections" --force >/dev/null

export ANSIBLE_COLLECTIONS_PATH="$work/collections"
export ANSIBLE_ROLES_PATH="$repo/tests/integration/targets"
export ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python"
export ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_FORCE_COLOR=false
export ANSIBLE_CALLBACK_RESULT_FORMAT=yaml

status=0
for podman in "${podmans[@]}"; do
  for target in "${targets[@]}"; do
    echo "=== $target with $podman"
    mkdir -p "$work/archives"
    if ! "$venv/bin/ansible-playbook" -i localhost, -c local \
        "$repo/tests/integration/run-target.yml" \
        -e "target=$target" -e "podman_executable=$podman" \
        -e "test_workdir=$work/archives" "${extra_vars[@]}"; then
      echo "FAILED: $target with $podman"
      status=1
    fi
    rm -rf "$work/archives"
  done
done
exit $status
