#!/usr/bin/env bash
# Build two test "hosts" for the container_migrate tests: two sshd instances
# on loopback addresses, each with its own Podman configuration, store,
# state folders, OCI runtime state, network (bridge and subnet) and folder
# for archives. Ansible reaches them over SSH like any other host.
#
# Usage (as root): tests/hosts/up.sh DIR
#   DIR must not exist or be empty; everything is created inside it, and
#   tests/hosts/down.sh DIR removes it all again.
#
# Environment:
#   SC_MIG_PORT        SSH port of both hosts (default 2222)
#   SC_MIG_PODMAN      podman program both hosts run (default /usr/bin/podman)
#   SC_MIG_IMAGE_FROM  podman wrapper whose store contains the test image
#                      (default /opt/statecraft/bin/podman, set up by
#                      scripts/setup.sh)
#   STATECRAFT_VENV    virtual environment whose python Ansible uses on the
#                      hosts (default <repo>/.venv)
#
# What DIR contains afterwards:
#   inventory.yml      hosts mig-a (127.0.0.2, the source in the tests) and
#                      mig-b (127.0.0.3, the destination)
#   ssh/               the client key, authorized_keys, known_hosts, and the
#                      folder for Ansible's SSH control sockets
#   a/, b/             one folder per host: sshd_config, host key, sshd.pid,
#                      sshd.log, the podman and runc wrappers, containers.conf,
#                      storage.conf, networks/, storage/, run/, libpod/,
#                      runc/ and work/ (the folder for archives)
#   pids               "HOST PID" of each sshd started
#   run_id             a random word for unique container names in the tests
#
# Test fault: while the file DIR/b/fail-restore exists, host b's podman
# wrapper fails every "container restore" with exit code 125, as podman does
# when a restore fails. The tests use it to make the destination's restore
# fail after the archive has arrived and passed its checksum.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
VENV_DIR=${STATECRAFT_VENV:-$REPO_DIR/.venv}
PORT=${SC_MIG_PORT:-2222}
PODMAN=${SC_MIG_PODMAN:-/usr/bin/podman}
IMAGE_FROM=${SC_MIG_IMAGE_FROM:-/opt/statecraft/bin/podman}
IMAGE=localhost/statecraft/testbox:latest
SSHD=/usr/sbin/sshd

# host  address    bridge  subnet         gateway
HOSTS="a 127.0.0.2 mig0a 10.86.1.0/24 10.86.1.1
b 127.0.0.3 mig0b 10.86.2.0/24 10.86.2.1"
NETWORK=migrate

log() {
    printf 'hosts: %s\n' "$*"
}

die() {
    printf 'hosts: error: %s\n' "$*" >&2
    exit 1
}

[ $# -eq 1 ] || die "usage: $0 DIR"
[ "$(id -u)" -eq 0 ] || die "run as root"
case $1 in
/*) DIR=$1 ;;
*) DIR=$PWD/$1 ;;
esac
if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR is not empty. Pass a new or empty folder"
fi

# ---------------------------------------------------------------- packages

# sshd comes from Debian's openssh-server, which fresh machines may lack.
# Installing it must not start the system's own sshd on port 22: where no
# policy-rc.d exists, one is put in place for the duration of the install.
ensure_sshd() {
    local policy=/usr/sbin/policy-rc.d added=no status
    if [ -x "$SSHD" ]; then
        return 0
    fi
    log "installing openssh-server"
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added=yes
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
            --no-install-recommends openssh-server >/dev/null || status=$?
    if [ "$added" = yes ]; then
        rm -f "$policy"
    fi
    [ "$status" -eq 0 ] || die "apt-get install openssh-server failed"
    [ -x "$SSHD" ] || die "$SSHD missing after installing openssh-server"
}

check_tools() {
    local tool
    for tool in ssh ssh-keygen "$PODMAN" "$IMAGE_FROM" /usr/bin/runc; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found. Run scripts/setup.sh first"
    done
    [ -x "$VENV_DIR/bin/python" ] || die "virtual environment $VENV_DIR not found. Run scripts/setup.sh first"
}

port_in_use() {
    local address=$1
    ss -Hltn "src $address:$PORT" 2>/dev/null | grep -q .
}

# ---------------------------------------------------------------- one host

write_podman_config() {
    local host=$1 bridge=$2 subnet=$3 gateway=$4 home=$DIR/$1 network_id
    mkdir -p "$home/networks" "$home/storage" "$home/run" "$home/libpod" "$home/runc-state" \
        "$home/volumes" "$home/work" "$home/tmp"
    network_id=$(printf 'statecraft-migrate-test-%s' "$host" | sha256sum | cut -d ' ' -f 1)
    cat >"$home/networks/$NETWORK.json" <<EOF
{
  "name": "$NETWORK",
  "id": "$network_id",
  "driver": "bridge",
  "network_interface": "$bridge",
  "created": "2025-01-01T00:00:00Z",
  "subnets": [{"subnet": "$subnet", "gateway": "$gateway"}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {"driver": "host-local"}
}
EOF
    # runc keeps its state in /run/runc by default, so each host gets a state
    # folder of its own, as on separate machines.
    cat >"$home/runc-wrapper" <<EOF
#!/bin/sh
# runc of test host $host, with its own state folder.
exec /usr/bin/runc --root $home/runc-state "\$@"
EOF
    chmod 755 "$home/runc-wrapper"
    cat >"$home/containers.conf" <<EOF
# Podman configuration of test host $host (written by tests/hosts/up.sh).
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[network]
network_config_dir = "$home/networks"
default_network = "$NETWORK"
default_subnet = "$subnet"

[engine]
runtime = "runc"
tmp_dir = "$home/libpod"
static_dir = "$home/storage/libpod"
volume_path = "$home/volumes"
lock_type = "file"
events_logger = "file"
events_logfile_path = "$home/events.log"
image_copy_tmp_dir = "$home/tmp"

[engine.runtimes]
runc = ["$home/runc-wrapper"]
EOF
    cat >"$home/storage.conf" <<EOF
# Store of test host $host (written by tests/hosts/up.sh).
[storage]
driver = "overlay"
graphroot = "$home/storage"
runroot = "$home/run"
EOF
    cat >"$home/podman" <<EOF
#!/bin/sh
# podman of test host $host (written by tests/hosts/up.sh): its own
# configuration and store, and CRIU 4 first in PATH for runc.
CONTAINERS_CONF=$home/containers.conf
CONTAINERS_STORAGE_CONF=$home/storage.conf
PODMAN_IGNORE_CGROUPSV1_WARNING=1
TMPDIR=$home/tmp
PATH=/usr/local/sbin:\${PATH:-/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
export CONTAINERS_CONF CONTAINERS_STORAGE_CONF PODMAN_IGNORE_CGROUPSV1_WARNING TMPDIR PATH
if [ -e $home/fail-restore ]; then
    for arg in "\$@"; do
        if [ "\$arg" = restore ]; then
            echo "Error: container restore refused on test host $host: $home/fail-restore exists" >&2
            exit 125
        fi
    done
fi
exec $PODMAN "\$@"
EOF
    chmod 755 "$home/podman"
}

write_sshd_config() {
    local host=$1 address=$2 home=$DIR/$1
    ssh-keygen -q -t ed25519 -N '' -C "statecraft-migrate-test-$host" -f "$home/ssh_host_ed25519_key"
    cat >"$home/sshd_config" <<EOF
# sshd of test host $host (written by tests/hosts/up.sh)
ListenAddress $address:$PORT
HostKey $home/ssh_host_ed25519_key
PidFile $home/sshd.pid
AuthorizedKeysFile $DIR/ssh/authorized_keys
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The key files live under /tmp, which is writable by everyone.
StrictModes no
MaxSessions 50
MaxStartups 50:30:100
Subsystem sftp /usr/lib/openssh/sftp-server
SetEnv STATECRAFT_TEST_HOST=$host
EOF
    printf '[%s]:%s %s\n' "$address" "$PORT" "$(cut -d ' ' -f 1,2 "$home/ssh_host_ed25519_key.pub")" \
        >>"$DIR/ssh/known_hosts"
}

start_sshd() {
    local host=$1 address=$2 home=$DIR/$1 pid
    # sshd needs its privilege separation folder, which the package's
    # service normally creates at boot.
    mkdir -p /run/sshd
    chmod 755 /run/sshd
    "$SSHD" -t -f "$home/sshd_config" || die "sshd_config of host $host is invalid"
    "$SSHD" -f "$home/sshd_config" -E "$home/sshd.log"
    for _ in $(seq 1 50); do
        if [ -s "$home/sshd.pid" ]; then
            break
        fi
        sleep 0.1
    done
    [ -s "$home/sshd.pid" ] || die "sshd of host $host did not start: $(tail -n 5 "$home/sshd.log")"
    pid=$(cat "$home/sshd.pid")
    printf '%s %s\n' "$host" "$pid" >>"$DIR/pids"
    log "host $host: sshd $pid on $address:$PORT"
}

# ---------------------------------------------------------------- main

ensure_sshd
check_tools
while read -r host address _; do
    if port_in_use "$address"; then
        die "$address:$PORT is already in use (another test run, or set SC_MIG_PORT)"
    fi
done <<<"$HOSTS"

mkdir -p "$DIR/ssh/cp"
chmod 700 "$DIR" "$DIR/ssh"
: >"$DIR/pids"
ssh-keygen -q -t ed25519 -N '' -C statecraft-migrate-test -f "$DIR/ssh/id_ed25519"
cp "$DIR/ssh/id_ed25519.pub" "$DIR/ssh/authorized_keys"

"$IMAGE_FROM" image exists "$IMAGE" || die "image $IMAGE not found in the store of $IMAGE_FROM. Run scripts/setup.sh first"
"$IMAGE_FROM" save --quiet --format oci-archive -o "$DIR/image.tar" "$IMAGE"

while read -r host address bridge subnet gateway; do
    write_podman_config "$host" "$bridge" "$subnet" "$gateway"
    "$DIR/$host/podman" load --quiet -i "$DIR/image.tar" >/dev/null
    "$DIR/$host/podman" image exists "$IMAGE" || die "loading $IMAGE into host $host failed"
    write_sshd_config "$host" "$address"
    start_sshd "$host" "$address"
done <<<"$HOSTS"
rm -f "$DIR/image.tar"

RUN_ID=$(tr -dc 'a-z0-9' </dev/urandom | head -c 8 || true)
printf '%s\n' "$RUN_ID" >"$DIR/run_id"

cat >"$DIR/inventory.yml" <<EOF
# Two test hosts made by tests/hosts/up.sh. tests/hosts/down.sh removes them.
all:
  vars:
    test_hosts_dir: $DIR
    test_run_id: $RUN_ID
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: $VENV_DIR/bin/python
  children:
    migrate_hosts:
      vars:
        ansible_connection: ssh
        ansible_user: root
        ansible_port: $PORT
        ansible_python_interpreter: $VENV_DIR/bin/python
        ansible_ssh_private_key_file: $DIR/ssh/id_ed25519
        ansible_ssh_common_args: >-
          -o UserKnownHostsFile=$DIR/ssh/known_hosts -o StrictHostKeyChecking=yes
          -o IdentitiesOnly=yes -o ConnectTimeout=10
        ansible_control_path_dir: $DIR/ssh/cp
        ansible_ssh_pipelining: true
      hosts:
        mig-a:
          ansible_host: 127.0.0.2
          test_podman: $DIR/a/podman
          test_host_dir: $DIR/a
          test_work_dir: $DIR/a/work
        mig-b:
          ansible_host: 127.0.0.3
          test_podman: $DIR/b/podman
          test_host_dir: $DIR/b
          test_work_dir: $DIR/b/work
EOF

# Check that each host accepts the SSH login and uses only its own store.
while read -r host address _; do
    graphroot=$(ssh -i "$DIR/ssh/id_ed25519" -p "$PORT" -o BatchMode=yes -o IdentitiesOnly=yes \
        -o UserKnownHostsFile="$DIR/ssh/known_hosts" -o StrictHostKeyChecking=yes \
        "root@$address" "$DIR/$host/podman info --format '{{.Store.GraphRoot}}'") ||
        die "ssh to host $host ($address:$PORT) failed: $(tail -n 5 "$DIR/$host/sshd.log")"
    [ "$graphroot" = "$DIR/$host/storage" ] || die "host $host uses store $graphroot, expected $DIR/$host/storage"
done <<<"$HOSTS"
log "ready: inventory $DIR/inventory.yml"
