#!/usr/bin/env bash
# Tear down the two test hosts that tests/hosts/up.sh built in DIR: their
# containers, Ansible's SSH control connections to them, the sshd instances
# (by the PIDs recorded in DIR/pids), every mount under DIR, the hosts'
# bridges, and DIR itself. Safe to run on a half-built DIR, and twice.
#
# Usage (as root): tests/hosts/down.sh DIR
set -uo pipefail

log() {
    printf 'hosts: %s\n' "$*"
}

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=${1%/}
case $DIR in
/*) ;;
*) DIR=$PWD/$DIR ;;
esac
if [ ! -d "$DIR" ]; then
    exit 0
fi
# Leave alone any folder that up.sh did not make.
if [ ! -f "$DIR/pids" ] && [ ! -d "$DIR/ssh" ]; then
    echo "hosts: $DIR was not made by tests/hosts/up.sh (no pids file, no ssh folder), so it is left alone" >&2
    exit 1
fi

# Containers go first, while each host's podman and runc still work.
for host in a b; do
    podman=$DIR/$host/podman
    [ -x "$podman" ] || continue
    rm -f "$DIR/$host/fail-restore"
    "$podman" rm --all --force --time 0 >/dev/null 2>&1 || true
    "$podman" system reset --force >/dev/null 2>&1 || true
done

# Ansible's SSH control connections to the hosts.
for socket in "$DIR"/ssh/cp/*; do
    [ -S "$socket" ] || continue
    ssh -o ControlPath="$socket" -O exit placeholder >/dev/null 2>&1 || true
done

# The sshd listeners, and any session they still serve. A PID is signalled
# only while its command line still names this DIR's sshd_config.
if [ -f "$DIR/pids" ]; then
    while read -r host pid; do
        [ -n "$pid" ] || continue
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$DIR/$host/sshd_config"; then
            children=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
            kill "$pid" 2>/dev/null || true
            for child in $children; do
                kill "$child" 2>/dev/null || true
            done
            for _ in $(seq 1 20); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            log "host $host: sshd $pid stopped"
        fi
    done <"$DIR/pids"
fi

# Mounts under DIR, deepest first (podman's overlay mounts, test tmpfs).
awk -v dir="$DIR/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r mount_point; do
        umount "$mount_point" 2>/dev/null || umount -l "$mount_point" 2>/dev/null || true
    done

# netavark removes a bridge together with its last container, so this only
# removes bridges that are left over.
for bridge in mig0a mig0b; do
    if ip link show "$bridge" >/dev/null 2>&1; then
        ip link delete "$bridge" 2>/dev/null || true
    fi
done

rm -rf "$DIR"
if [ -e "$DIR" ]; then
    echo "hosts: could not remove $DIR completely" >&2
    exit 1
fi
log "removed $DIR"
