#!/usr/bin/env bash
# Ansible's quality gates for statecraft.podman, each timed:
#   changelog  antsibull-changelog lint, and CHANGELOG.rst up to date with the fragments
#   build      ansible-galaxy collection build, and install of the tarball into a temporary path
#   doc        ansible-doc of every module and every role, from that install
#   docs       docs/modules/ up to date with the modules' and roles' documentation
#   lint       ansible-lint --profile production on roles/ and playbooks/
#   sanity     ansible-test sanity (ignore entries only with a reason)
#   units      ansible-test units
#   builder    ansible-builder: the collection's system requirements, and a build
#              context from the execution environment definition in docs/guide.md
#   oldest     the oldest ansible-core that meta/runtime.yml allows: ansible-doc and a
#              playbook that uses all four modules
#   newest     the newest ansible-core that installs here (a newer Python): the same
#   molecule   the podman_host role's Molecule scenario: check mode, converge,
#              idempotence, verify against criu and podman
#
# Usage: tests/quality/run.sh [GATE ...]      (default: every gate, in this order)
# Run scripts/setup.sh first: it makes the .venv (or STATECRAFT_VENV) and the
# Podman, CRIU and test image that the oldest, newest and molecule gates use.
# The oldest and newest gates keep their virtual environments outside the
# work tree, in /opt/statecraft/venvs/oldest and .../newest (or under
# STATECRAFT_QUALITY_VENVS): made once, remade when their pins change.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
quality=$repo/tests/quality
venv=${STATECRAFT_VENV:-$repo/.venv}
pyenv_root=${PYENV_ROOT:-/root/.pyenv}
venvs=${STATECRAFT_QUALITY_VENVS:-/opt/statecraft/venvs}
all_gates=(changelog build doc docs lint sanity units builder oldest newest molecule)
gates=("$@")
[ ${#gates[@]} -gt 0 ] || gates=("${all_gates[@]}")
for gate in "${gates[@]}"; do
  case " ${all_gates[*]} " in
    *" $gate "*) ;;
    *) echo "unknown gate '$gate'; the gates are: ${all_gates[*]}" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/statecraft-quality.XXXXXX)
trap 'rm -rf "$work"' EXIT
collections=$work/collections
export ANSIBLE_FORCE_COLOR=false ANSIBLE_NOCOLOR=1 NO_COLOR=1 PY_COLORS=0
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export PATH="$venv/bin:$PATH"

podman=$(head -n 1 /opt/statecraft/podman-versions 2>/dev/null || command -v podman || echo podman)
criu_path=
if [ -x /usr/local/sbin/criu ]; then
  criu_path=/usr/local/sbin/criu  # scripts/setup.sh's CRIU 4 on Debian 12
fi
image=localhost/statecraft/testbox:latest

results=()
failed=0
suite_started=$SECONDS

# run_gate NAME FUNCTION: run it, print its time, remember the result.
run_gate() {
  local name=$1 started=$SECONDS status
  printf '\n=== gate %s\n' "$name"
  "gate_$name"
  status=$?
  local took=$((SECONDS - started))
  if [ "$status" -eq 0 ]; then
    results+=("$(printf '%-10s passed  %4ss' "$name" "$took")")
  else
    results+=("$(printf '%-10s FAILED  %4ss' "$name" "$took")")
    failed=$((failed + 1))
  fi
  printf '=== gate %s: %s in %ss\n' "$name" "$([ "$status" -eq 0 ] && echo passed || echo FAILED)" "$took"
}

# The collection as ansible-test wants it: a git work tree at
# ansible_collections/statecraft/podman, holding what git tracks plus the
# files not yet committed (nothing ignored).
collection_copy() {
  local copy=$work/tree/ansible_collections/statecraft/podman
  if [ ! -d "$copy" ]; then
    mkdir -p "$copy"
    # Leave out what tools make in the work tree without a .gitignore entry.
    (cd "$repo" && git ls-files --cached --others --exclude-standard -z \
      | grep -zvE '^(\.ansible|\.venv[^/]*|\.pytest_cache|tests/output)/' \
      | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
      | tar --null -T - -c) | tar -C "$copy" -x
    (cd "$copy" && git init -q . && git add -A)
  fi
  printf '%s\n' "$copy"
}

# ansible-test bootstraps pip into each virtual environment it makes with a
# script that it downloads from a host these machines cannot reach; put the
# project's stand-in (tests/sanity/pip_bootstrap.py) into its cache instead.
ansible_test_pip_bootstrap() {
  local pip_version
  pip_version=$("$venv/bin/python" -c 'import re, inspect, ansible_test._internal.python_requirements as r; print(re.search(r"pip=.([0-9.]+)", inspect.getsource(r.get_venv_packages)).group(1))') || return 1
  mkdir -p "$HOME/.ansible/test/cache"
  cp "$repo/tests/sanity/pip_bootstrap.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
}

ensure_installed() {
  if [ ! -d "$collections/ansible_collections/statecraft/podman" ]; then
    gate_build >/dev/null || return 1
  fi
}

# ---------------------------------------------------------------- gates

gate_changelog() {
  (cd "$repo" && antsibull-changelog lint) || return 1
  bash "$quality/changelog.sh" --check
}

gate_build() {
  rm -rf "$work/dist" "$collections"
  ansible-galaxy collection build "$repo" --output-path "$work/dist" --force || return 1
  ansible-galaxy collection install --offline --force -p "$collections" \
    "$work"/dist/statecraft-podman-*.tar.gz || return 1
  tar -tzf "$work"/dist/statecraft-podman-*.tar.gz | grep -E '^(plugins/modules|roles/[^/]+/meta)/[^/]+$' \
    | sort | sed 's/^/  in the tarball: /'
}

# ansible-doc of every module and role, from the installed tarball, with the
# ansible-doc in PATH (so the oldest and newest gates reuse it).
doc_everything() {
  local name count=0
  for name in $(cd "$collections/ansible_collections/statecraft/podman/plugins/modules" && ls ./*.py); do
    name=$(basename "$name" .py)
    ANSIBLE_COLLECTIONS_PATH=$collections ansible-doc "statecraft.podman.$name" >"$work/doc.txt" \
      || { echo "ansible-doc statecraft.podman.$name failed"; return 1; }
    grep -q "statecraft.podman.$name" "$work/doc.txt" || { echo "no page for $name"; return 1; }
    echo "ansible-doc statecraft.podman.$name: ok ($(wc -l <"$work/doc.txt") lines)"
    count=$((count + 1))
  done
  for name in $(cd "$collections/ansible_collections/statecraft/podman/roles" && ls); do
    ANSIBLE_COLLECTIONS_PATH=$collections ansible-doc -t role "statecraft.podman.$name" >"$work/doc.txt" \
      || { echo "ansible-doc -t role statecraft.podman.$name failed"; return 1; }
    grep -qE "ENTRY POINT: .{0,8}main" "$work/doc.txt" || { echo "no main entry point for role $name"; return 1; }
    echo "ansible-doc -t role statecraft.podman.$name: ok ($(wc -l <"$work/doc.txt") lines)"
    count=$((count + 1))
  done
  [ "$count" -ge 5 ] || { echo "only $count modules and roles documented"; return 1; }
}

gate_doc() {
  ensure_installed || return 1
  doc_everything
}

gate_docs() {
  ensure_installed || return 1
  "$venv/bin/python" "$repo/docs/build.py" --check --collections-path "$collections"
}

gate_lint() {
  ensure_installed || return 1
  (cd "$repo" && ANSIBLE_COLLECTIONS_PATH=$collections ansible-lint --profile production \
    --offline roles/ playbooks/)
}

gate_sanity() {
  local copy ignore status=0
  copy=$(collection_copy) || return 1
  # An ignore entry must say why: "PATH TEST # reason".
  for ignore in "$copy"/tests/sanity/ignore-*.txt; do
    [ -f "$ignore" ] || continue
    if grep -vE '^\s*(#|$)' "$ignore" | grep -vE ' # .*[[:alpha:]]'; then
      echo "$ignore: the entries above give no reason (write 'PATH TEST # why')"
      status=1
    fi
  done
  ansible_test_pip_bootstrap || return 1
  (cd "$copy" && ansible-test sanity --python 3.11 --color no) || status=1
  return $status
}

gate_units() {
  local copy
  copy=$(collection_copy) || return 1
  ansible_test_pip_bootstrap || return 1
  (cd "$copy" && ansible-test units --python 3.11 --venv --requirements --color no)
}

gate_builder() {
  local context=$work/ee-context definition=$work/execution-environment.yml status=0
  ensure_installed || return 1
  # What ansible-builder reads from the installed collection when it builds an image.
  ansible-builder introspect --sanitize "$collections" >"$work/introspect.txt" || return 1
  cat "$work/introspect.txt"
  for package in podman runc criu zstd; do
    grep -qE "^- '?$package .*# from collection statecraft.podman" "$work/introspect.txt" \
      || { echo "ansible-builder does not see $package from bindep.txt"; status=1; }
  done
  # The execution environment definition shown in docs/guide.md, as users copy it.
  awk '/<!-- execution-environment.yml -->/ { found = 1; next }
       found && /^```yaml/ { inside = 1; next }
       inside && /^```/ { exit }
       inside { print }' "$repo/docs/guide.md" >"$definition"
  [ -s "$definition" ] || { echo "no execution environment definition in docs/guide.md"; return 1; }
  ansible-builder create -f "$definition" -c "$context" --output-filename Containerfile -v 2 || return 1
  for file in Containerfile _build/requirements.yml _build/scripts/assemble _build/scripts/introspect.py; do
    [ -s "$context/$file" ] || { echo "the build context has no $file"; status=1; }
  done
  grep -q 'statecraft.podman' "$context/_build/requirements.yml" \
    || { echo "_build/requirements.yml does not install statecraft.podman"; status=1; }
  grep -q 'introspect' "$context/Containerfile" \
    || { echo "the Containerfile does not read the collections' requirements"; status=1; }
  find "$context" -type f | sed "s|^$context/|  context: |" | sort
  return $status
}

# make_venv DIR PYTHON REQUIREMENTS: a virtual environment with pinned
# packages, made once and remade when the requirements file changes.
make_venv() {
  local dir=$1 python=$2 requirements=$3 stamp wanted
  [ -x "$python" ] || { echo "$python not found (pyenv)"; return 1; }
  stamp=$dir/.statecraft-requirements.sha256
  wanted=$( (cat "$requirements"; "$python" --version) | sha256sum | cut -d ' ' -f 1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && "$dir/bin/python" -c 'import ansible' 2>/dev/null; then
    return 0
  fi
  rm -rf "$dir"
  "$python" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
    >"$work/pip.log" 2>&1 || { tail -n 20 "$work/pip.log"; return 1; }
  printf '%s\n' "$wanted" >"$stamp"
}

# core_gate NAME PYTHON: ansible-doc of everything and the smoke playbook
# with the ansible-core pinned in tests/quality/requirements-NAME.txt.
core_gate() {
  local name=$1 python=$2 dir=$venvs/$1
  ensure_installed || return 1
  make_venv "$dir" "$python" "$quality/requirements-$name.txt" || return 1
  echo "ansible-core $("$dir/bin/python" -c 'import ansible.release as r; print(r.__version__)') on $("$dir/bin/python" --version)"
  PATH="$dir/bin:$PATH" doc_everything || return 1
  ANSIBLE_COLLECTIONS_PATH=$collections "$dir/bin/ansible-playbook" -i localhost, -c local \
    -e "ansible_python_interpreter=$dir/bin/python" \
    -e "smoke_podman=$podman" -e "smoke_image=$image" -e "smoke_workdir=$work/smoke-$name" \
    "$quality/smoke.yml"
}

gate_oldest() {
  core_gate oldest "$pyenv_root/versions/3.10.13/bin/python3"
}

gate_newest() {
  core_gate newest "$pyenv_root/versions/3.13.0/bin/python3"
}

gate_molecule() {
  local copy
  ensure_installed || return 1
  # Molecule keeps its state under the scenario's ephemeral folder; run it
  # in a copy so the work tree stays clean.
  copy=$(collection_copy) || return 1
  (cd "$copy" && STATECRAFT_COLLECTIONS_PATH=$collections \
    STATECRAFT_PYTHON="$venv/bin/python" STATECRAFT_PODMAN="$podman" \
    STATECRAFT_CRIU_PATH="$criu_path" molecule test -s podman_host)
}

for gate in "${gates[@]}"; do
  run_gate "$gate"
done

printf '\n=== quality gates (%ss in all)\n' "$((SECONDS - suite_started))"
printf '%s\n' "${results[@]}"
printf 'gates: %d passed, %d failed\n' "$(( ${#results[@]} - failed ))" "$failed"
[ "$failed" -eq 0 ]
