#!/usr/bin/env bash
# The project's test command: set up the machine, then run every check.
#   quality gates (tests/quality/run.sh: changelog, build and install, ansible-doc,
#   generated docs, ansible-lint, ansible-test sanity and units, ansible-builder,
#   the oldest and newest ansible-core, the podman_host Molecule scenario),
#   the demo, the integration targets against each installed Podman (4.x and
#   5.x) through the CLI and through the REST API, the migration tests between
#   two SSH hosts, and the unit tests.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${STATECRAFT_VENV:-$repo/.venv}
started=$(date +%s)

step() { printf '\n### %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "set-up"
bash "$repo/scripts/setup.sh"

step "quality gates"
bash "$repo/tests/quality/run.sh"

step "demo playbook"
bash "$repo/scripts/demo.sh"

step "integration targets (podman CLI)"
bash "$repo/tests/integration/run.sh"

if [ -f "$repo/tests/integration/run-api.sh" ]; then
  step "integration targets (REST API socket)"
  bash "$repo/tests/integration/run-api.sh"
fi

if [ -f "$repo/tests/migrate/run.sh" ]; then
  step "migration between two hosts"
  bash "$repo/tests/migrate/run.sh"
fi

step "unit tests"
(cd "$repo" && "$venv/bin/python" -m pytest -q tests/unit)

step "all checks passed"
