#!/usr/bin/env bash
# The project's test command: set up the machine, then run every check.
#   unit tests (pytest), ansible-doc of each module, ansible-lint on playbooks,
#   ansible-test sanity, the demo, and the integration targets against each
#   installed Podman (4.x and 5.x).
# Set STATECRAFT_SKIP_SANITY=1 to leave out ansible-test sanity when iterating.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${STATECRAFT_VENV:-$repo/.venv}
started=$(date +%s)

step() { printf '\n### %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "set-up"
bash "$repo/scripts/setup.sh"

step "documentation of every module (ansible-doc)"
collections=$(mktemp -d /tmp/statecraft-test.XXXXXX)
trap 'rm -rf "$collections"' EXIT
mkdir -p "$collections/ansible_collections/statecraft"
mkdir "$collections/ansible_collections/statecraft/podman"
tar -C "$repo" --exclude=./.venv --exclude=./.git --exclude=./tests/output -c . \
  | tar -C "$collections/ansible_collections/statecraft/podman" -x
for module in "$repo"/plugins/modules/*.py; do
  name=$(basename "$module" .py)
  ANSIBLE_COLLECTIONS_PATH="$collections" "$venv/bin/ansible-doc" "statecraft.podman.$name" >/dev/null
  echo "ansible-doc statecraft.podman.$name: ok"
done

step "ansible-lint (playbooks)"
(cd "$repo" && ANSIBLE_COLLECTIONS_PATH="$collections" "$venv/bin/ansible-lint" playbooks/)

if [ "${STATECRAFT_SKIP_SANITY:-0}" != 1 ]; then
  step "ansible-test sanity"
  # ansible-test bootstraps pip into each sanity virtual environment with a script
  # it downloads from a host these machines cannot reach; give it ours instead.
  pip_version=$("$venv/bin/python" -c 'import re, ansible_test._internal.python_requirements as r, inspect; print(re.search(r"pip=.([0-9.]+)", inspect.getsource(r.get_venv_packages)).group(1))')
  mkdir -p "$HOME/.ansible/test/cache"
  cp "$repo/tests/sanity/pip_bootstrap.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  (cd "$collections/ansible_collections/statecraft/podman" && git init -q . && git add -A \
    && "$venv/bin/ansible-test" sanity --python 3.11 --color no)
fi

step "demo playbook"
bash "$repo/scripts/demo.sh"

step "integration targets"
bash "$repo/tests/integration/run.sh"

step "unit tests"
(cd "$repo" && "$venv/bin/python" -m pytest -q tests/unit)

step "all checks passed"
