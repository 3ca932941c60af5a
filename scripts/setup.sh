#!/usr/bin/env bash
# Prepare this machine for statecraft.podman's tests: Podman, runc, CRIU,
# a test image in every Podman store and the Python virtual environment.
#
# Usage (as root): bash scripts/setup.sh
#
# Supports Debian 12 (bookworm) and Debian 13 (trixie) on amd64. Every step
# checks first and does nothing when its result is already in place, so a
# second run changes nothing.
#
# Environment:
#   STATECRAFT_VENV  folder of the virtual environment (default: <repo>/.venv)
#
# What it sets up on Debian 12:
#   /opt/statecraft/bin/podman4   Podman 4.3 from Debian 12 (the system podman)
#   /opt/statecraft/bin/podman5   Podman 5 from Debian 13, unpacked into
#                                 /opt/statecraft/podman5/root with its own
#                                 store, network and containers.conf
#   /opt/statecraft/bin/podman    link to podman4
#   /usr/local/sbin/criu          CRIU 4 from Debian 13, unpacked into
#                                 /opt/statecraft/criu
# On Debian 13 the system podman is 5.x and its CRIU works, so there is only
# /opt/statecraft/bin/podman5 (and podman linked to it).
# /opt/statecraft/podman-versions lists one wrapper per line.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$SCRIPT_DIR")
VENV_DIR=${STATECRAFT_VENV:-$REPO_DIR/.venv}

PREFIX=/opt/statecraft
BIN_DIR=$PREFIX/bin
CACHE_DIR=/var/cache/statecraft
TRIXIE_DEB_CACHE=$CACHE_DIR/trixie-debs
CRIU_ROOT=$PREFIX/criu
CRIU_WRAPPER=/usr/local/sbin/criu
PODMAN4_CONF=$PREFIX/podman4/containers.conf
PODMAN5_DIR=$PREFIX/podman5
PODMAN5_ROOT=$PODMAN5_DIR/root
PODMAN5_CONF=$PODMAN5_DIR/containers.conf
PODMAN5_STORAGE_CONF=$PODMAN5_DIR/storage.conf
PODMAN5_NETWORK_DIR=$PODMAN5_DIR/networks
PODMAN5_GRAPHROOT=/var/lib/statecraft/podman5/storage
PODMAN5_RUNROOT=/run/statecraft/podman5
PODMAN5_NETWORK=podman5
PODMAN5_BRIDGE=podman5br0
# Podman 4.3's default network is 10.88.0.0/16, and its default pools for
# new networks cover 10.89.0.0 to 10.255.255.255. podman5's default network
# and the networks that tests create with podman5 come from 10.87.0.0/16, so
# Podman 4 never hands out one of their subnets.
PODMAN5_SUBNET=10.87.0.0/24
PODMAN5_GATEWAY=10.87.0.1
PODMAN5_SUBNET_POOL=10.87.0.0/16
VERSIONS_FILE=$PREFIX/podman-versions
TEST_IMAGE=localhost/statecraft/testbox:latest
TEST_IMAGE_LABEL=statecraft.testbox.hash
TEST_IMAGE_APPLETS="sh sleep cat echo ls mkdir rm seq date head tail wc env true false touch kill nc cp"
# Debian's busybox-static has no flock applet, so the image gets util-linux's
# flock together with the shared libraries it needs.
TEST_IMAGE_HOST_TOOLS="flock"
PYENV_PYTHON=/root/.pyenv/versions/3.11.7/bin/python3
REQUIREMENTS=$REPO_DIR/requirements-test.txt
MULTIARCH=x86_64-linux-gnu
# Debian packages needed on both Debian 12 and 13. buildah makes containers
# that Podman did not create, for the tests of such "external" containers.
# CRIU locks a container's network with iptables-restore during a
# checkpoint, and Debian 12's netavark sets up bridge networks with
# iptables, but neither package depends on iptables.
BASE_PACKAGES="podman runc conmon netavark aardvark-dns iptables busybox-static zstd gcc libc6-dev buildah"

# Libraries that Debian 13's criu links against, including those of its
# libraries. The unpacked tree must contain all of them, because the system
# copies (Debian 12) are older than what the Debian 13 binaries need.
CRIU_PACKAGES="criu libc6 libgcc-s1 libprotobuf-c1 libnl-3-200 libnet1
  libgnutls30t64 libnftables1 libbsd0 libcap2 libdrm2 libuuid1 libnettle8t64
  libhogweed6t64 libp11-kit0 libidn2-0 libunistring5 libtasn1-6 libgmp10
  libffi8 libjansson4 libmnl0 libnftnl11 libxtables12 libmd0 libedit2
  libtinfo6 libzstd1"
PODMAN5_PACKAGES="podman conmon netavark aardvark-dns libc6 libgcc-s1
  libgpgme11t64 libassuan9 libgpg-error0 libseccomp2 libsubid5 libsystemd0
  liblz4-1 liblzma5 libzstd1 libgcrypt20 libcap2 libaudit1 libcap-ng0
  libselinux1 libpcre2-8-0 libsemanage2 libbz2-1.0 libsepol2 libglib2.0-0t64
  libmount1 libblkid1 libffi8 libbsd0 libmd0 libsqlite3-0 libcrypt1 libacl1
  libattr1 libpam0g libatomic1"
PODMAN5_BINARIES="usr/bin/podman usr/bin/conmon usr/lib/podman/netavark usr/lib/podman/aardvark-dns"

# runc finds criu through PATH, and the CRIU 4 wrapper must win over any
# criu in /usr/sbin.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive

START_SECONDS=$SECONDS
APT_UPDATED=no
CHECK_CONTAINERS=()
WORK_DIR=
WRAPPERS=

log() {
    printf 'setup: %s\n' "$*"
}

die() {
    printf 'setup: error: %s\n' "$*" >&2
    exit 1
}

cleanup() {
    local entry wrapper name
    for entry in "${CHECK_CONTAINERS[@]+"${CHECK_CONTAINERS[@]}"}"; do
        wrapper=${entry%% *}
        name=${entry#* }
        "$wrapper" rm -f -t 0 --ignore "$name" >/dev/null 2>&1 || true
    done
    if [ -n "$WORK_DIR" ]; then
        rm -rf "$WORK_DIR"
    fi
}
trap cleanup EXIT

# Write stdin to PATH with MODE, but only when the content or mode differs,
# so that a second run leaves every file untouched.
write_file() {
    local path=$1 mode=$2 tmp
    mkdir -p "$(dirname "$path")"
    tmp=$(mktemp "$path.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if [ -f "$path" ] && cmp -s "$tmp" "$path" &&
        [ "$(stat -c %a "$path")" = "$(stat -c %a "$tmp")" ]; then
        rm -f "$tmp"
        return 0
    fi
    mv -f "$tmp" "$path"
    log "wrote $path"
}

link_file() {
    local target=$1 path=$2
    if [ "$(readlink "$path" 2>/dev/null || true)" = "$target" ]; then
        return 0
    fi
    ln -sfn "$target" "$path"
    log "linked $path -> $target"
}

# ---------------------------------------------------------------- apt

# Run apt-get with its output in a log file that is shown only on failure.
# The lock timeout lets a run wait for another apt or dpkg on the machine.
run_apt_get() {
    if ! apt-get -o DPkg::Lock::Timeout=300 "$@" >"$WORK_DIR/apt.log" 2>&1; then
        tail -n 20 "$WORK_DIR/apt.log" >&2
        die "apt-get $* failed"
    fi
}

apt_update_once() {
    if [ "$APT_UPDATED" = yes ]; then
        return 0
    fi
    log "apt-get update"
    run_apt_get update
    APT_UPDATED=yes
}

missing_packages() {
    local package status
    for package in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)
        if [ "${status:0:2}" != "ii" ]; then
            printf '%s\n' "$package"
        fi
    done
}

install_packages() {
    local missing
    missing=$(missing_packages "$@")
    if [ -z "$missing" ]; then
        log "Debian packages present: $*"
        return 0
    fi
    apt_update_once
    # shellcheck disable=SC2086 # one package name per word
    log "installing:" $missing
    # shellcheck disable=SC2086
    run_apt_get install -y --no-install-recommends $missing
}

# Print "URI SIGNED-BY" of the first enabled "deb" source for SUITE, reading
# both the one-line format (*.list) and the deb822 format (*.sources).
# SIGNED-BY is "-" when the source names no keyring file.
find_debian_mirror() {
    local suite=$1 file found=
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$file" ] || continue
        found=$(awk -v suite="$suite" '
            $1 == "deb" {
                i = 2; keyring = "-"
                if ($2 ~ /^\[/) {
                    for (; i <= NF; i++) {
                        option = $i; gsub(/[][]/, "", option)
                        if (option ~ /^signed-by=/) keyring = substr(option, 11)
                        if ($i ~ /\]$/) { i++; break }
                    }
                }
                if ($(i + 1) == suite) { print $i, keyring; exit }
            }' "$file")
        if [ -n "$found" ]; then
            printf '%s\n' "$found"
            return 0
        fi
    done
    for file in /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        found=$(awk -v suite="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; keyring = "-"; enabled = "yes"
                for (n = 1; n <= NF; n++) {
                    line = $n
                    if (line ~ /^#/ || line !~ /^[A-Za-z-]+:/) continue
                    key = tolower(substr(line, 1, index(line, ":") - 1))
                    value = substr(line, index(line, ":") + 1)
                    gsub(/^[ \t]+|[ \t]+$/, "", value)
                    if (key == "types") types = value
                    else if (key == "uris") uris = value
                    else if (key == "suites") suites = value
                    else if (key == "enabled") enabled = tolower(value)
                    else if (key == "signed-by" && value ~ /^\//) keyring = value
                }
                if (enabled == "no" || (" " types " ") !~ / deb /) next
                if ((" " suites " ") !~ (" " suite " ")) next
                split(uris, first, /[ \t]+/)
                print first[1], keyring
                exit
            }' "$file")
        if [ -n "$found" ]; then
            printf '%s\n' "$found"
            return 0
        fi
    done
    return 1
}

# Add Debian 13 as a download-only package source. The pin keeps its
# priority at 100, below the 500 of the system's own suite, so apt never
# prefers a Debian 13 package over an installed or Debian 12 one.
configure_trixie_source() {
    local mirror keyring
    read -r mirror keyring < <(find_debian_mirror bookworm) ||
        die "no enabled 'deb' source for bookworm in /etc/apt/sources.list or /etc/apt/sources.list.d; add the Debian mirror and run again"
    mirror=${mirror%/}
    # Debian 12's debian-archive-keyring.gpg (2023.3+deb12u2) also contains
    # Debian 13's keys, and a source's own keyring may cover Debian 12 only.
    if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || [ "$keyring" = "-" ]; then
        keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    fi
    [ -f "$keyring" ] || die "apt keyring $keyring not found; install debian-archive-keyring"

    write_file /etc/apt/sources.list.d/statecraft-trixie.sources 644 <<EOF
# Written by statecraft.podman's scripts/setup.sh. CRIU 4 and Podman 5 are
# downloaded from this suite and unpacked under /opt/statecraft, and the
# script installs nothing from it (see /etc/apt/preferences.d/statecraft-trixie).
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: $keyring
EOF
    write_file /etc/apt/preferences.d/statecraft-trixie 644 <<'EOF'
# Written by statecraft.podman's scripts/setup.sh. Installed and Debian 12
# versions always win over Debian 13 ones, so a package comes from Debian 13
# only when requested as NAME/trixie or when Debian 12 does not have it.
Package: *
Pin: release n=trixie
Pin-Priority: 100
EOF
}

cached_trixie_deb() {
    find "$TRIXIE_DEB_CACHE" -maxdepth 1 -name "${1}_*_*.deb" | sort -V | tail -n 1
}

# Download Debian 13's version of each PACKAGE that has no .deb in the cache.
download_trixie_debs() {
    local package missing=()
    mkdir -p "$TRIXIE_DEB_CACHE"
    for package in "$@"; do
        if [ -z "$(cached_trixie_deb "$package")" ]; then
            missing+=("$package/trixie")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    apt_update_once
    log "downloading ${#missing[@]} Debian 13 packages into $TRIXIE_DEB_CACHE"
    (cd "$TRIXIE_DEB_CACHE" && run_apt_get -o APT::Sandbox::User=root download "${missing[@]}")
}

# Unpack the Debian 13 PACKAGES into a new folder and then replace DEST with
# it, so an interrupted run never leaves a half-filled DEST behind.
unpack_trixie_packages() {
    local dest=$1 package deb
    shift
    download_trixie_debs "$@"
    rm -rf "$dest.new"
    mkdir -p "$dest.new"
    for package in "$@"; do
        deb=$(cached_trixie_deb "$package")
        [ -n "$deb" ] || die "apt-get download $package/trixie left no .deb in $TRIXIE_DEB_CACHE"
        dpkg -x "$deb" "$dest.new"
    done
    rm -rf "$dest"
    mv "$dest.new" "$dest"
}

# Record in DEST which .deb files it was unpacked from. Later runs skip the
# unpacking while the record lists the same packages, so the record is
# written only after DEST has passed its checks.
record_trixie_packages() {
    local dest=$1 package
    shift
    for package in "$@"; do
        basename "$(cached_trixie_deb "$package")"
    done >"$dest/.statecraft-debs"
}

# Fail unless every shared library of BINARY (inside ROOT) resolves to a file
# inside ROOT. A library found in the system's /usr/lib would come from
# Debian 12 and could need symbols that Debian 13's libc does not have, or
# the other way round.
check_private_libraries() {
    local root=$1 binary=$2 listing outside
    listing=$("$root/usr/lib/$MULTIARCH/ld-linux-x86-64.so.2" \
        --library-path "$root/usr/lib/$MULTIARCH" --list "$root/$binary" 2>&1) ||
        die "cannot list the libraries of $root/$binary: $listing"
    if grep -q 'not found' <<<"$listing"; then
        die "libraries of $root/$binary missing from $root (add their Debian 13 packages to this script): $(grep 'not found' <<<"$listing" | tr -s ' \t\n' ' ')"
    fi
    outside=$(awk -v root="$root/" '$2 == "=>" && index($3, root) != 1 { print $1 }' <<<"$listing")
    if [ -n "$outside" ]; then
        die "libraries of $root/$binary resolve outside $root: $(tr '\n' ' ' <<<"$outside")"
    fi
}

# Succeed when the record in DEST lists exactly the PACKAGES (names only).
package_list_matches() {
    local record=$1/.statecraft-debs
    shift
    [ -f "$record" ] &&
        [ "$(sed 's/_.*//' "$record" | sort -u)" = "$(printf '%s\n' "$@" | sort -u)" ]
}

# ---------------------------------------------------------------- CRIU

# Output is read into a variable before grep -q reads it, here and below:
# grep -q exits at the first match, and under pipefail the SIGPIPE that the
# writer then gets fails the whole pipeline.
criu_works() {
    local output
    command -v criu >/dev/null 2>&1 || return 1
    output=$(criu check 2>&1) || return 1
    grep -q 'Looks good' <<<"$output"
}

setup_criu_from_trixie() {
    # shellcheck disable=SC2086 # word lists
    if [ -x "$CRIU_WRAPPER" ] && package_list_matches "$CRIU_ROOT" $CRIU_PACKAGES &&
        [ "$(command -v criu)" = "$CRIU_WRAPPER" ] && criu_works; then
        log "CRIU 4 present: $CRIU_WRAPPER"
        return 0
    fi

    log "unpacking Debian 13's criu into $CRIU_ROOT"
    # shellcheck disable=SC2086
    unpack_trixie_packages "$CRIU_ROOT" $CRIU_PACKAGES
    check_private_libraries "$CRIU_ROOT" usr/sbin/criu

    # The binary runs through Debian 13's loader, which then takes every
    # library from the unpacked tree rather than from Debian 12's /usr/lib.
    write_file "$CRIU_WRAPPER" 755 <<EOF
#!/bin/sh
# CRIU from Debian 13, run with its own C library and libraries unpacked
# into $CRIU_ROOT (written by statecraft.podman's scripts/setup.sh).
exec $CRIU_ROOT/usr/lib/$MULTIARCH/ld-linux-x86-64.so.2 \\
    --library-path $CRIU_ROOT/usr/lib/$MULTIARCH \\
    $CRIU_ROOT/usr/sbin/criu "\$@"
EOF
    [ "$(command -v criu)" = "$CRIU_WRAPPER" ] ||
        die "criu resolves to $(command -v criu), not $CRIU_WRAPPER"
    criu_works || die "'criu check' does not print 'Looks good': $(criu check 2>&1 | tail -n 3)"
    # shellcheck disable=SC2086 # word list
    record_trixie_packages "$CRIU_ROOT" $CRIU_PACKAGES
    log "criu check: Looks good ($(criu --version | head -n 1))"
}

# ---------------------------------------------------------------- Podman 5

podman5_binaries_patched() {
    local binary
    for binary in $PODMAN5_BINARIES; do
        [ "$(patchelf --print-interpreter "$PODMAN5_ROOT/$binary" 2>/dev/null)" = \
            "$PODMAN5_ROOT/usr/lib/$MULTIARCH/ld-linux-x86-64.so.2" ] || return 1
    done
}

setup_podman5_from_trixie() {
    local binary
    # shellcheck disable=SC2086 # word lists
    if package_list_matches "$PODMAN5_ROOT" $PODMAN5_PACKAGES &&
        podman5_binaries_patched; then
        log "Podman 5 present: $PODMAN5_ROOT"
        return 0
    fi

    log "unpacking Debian 13's podman into $PODMAN5_ROOT"
    # shellcheck disable=SC2086
    unpack_trixie_packages "$PODMAN5_ROOT" $PODMAN5_PACKAGES
    # Running podman through the loader (as criu is) does not work, because
    # podman re-executes /proc/self/exe, so the binaries themselves point at
    # the unpacked loader and libraries.
    for binary in $PODMAN5_BINARIES; do
        [ -f "$PODMAN5_ROOT/$binary" ] || die "$binary not found in Debian 13's packages"
        patchelf --set-interpreter "$PODMAN5_ROOT/usr/lib/$MULTIARCH/ld-linux-x86-64.so.2" \
            --force-rpath --set-rpath "$PODMAN5_ROOT/usr/lib/$MULTIARCH" \
            "$PODMAN5_ROOT/$binary"
        check_private_libraries "$PODMAN5_ROOT" "$binary"
    done
    "$PODMAN5_ROOT/usr/bin/podman" --version >/dev/null ||
        die "$PODMAN5_ROOT/usr/bin/podman --version failed"
    # shellcheck disable=SC2086 # word list
    record_trixie_packages "$PODMAN5_ROOT" $PODMAN5_PACKAGES
}

# Print the containers.conf keys of the [network] table that give podman5
# its own default network.
podman5_network_settings() {
    cat <<EOF
network_config_dir = "$PODMAN5_NETWORK_DIR"
default_network = "$PODMAN5_NETWORK"
default_subnet = "$PODMAN5_SUBNET"
default_subnet_pools = [{base = "$PODMAN5_SUBNET_POOL", size = 24}]
EOF
}

# Write the network that podman5 uses by default. Without a network file,
# Podman makes its default network on the fly with the bridge podman0, the
# bridge of the system's default network (Podman 4's on Debian 12).
write_podman5_network() {
    local network_id
    network_id=$(printf 'statecraft-%s' "$PODMAN5_NETWORK" | sha256sum | cut -d ' ' -f 1)
    write_file "$PODMAN5_NETWORK_DIR/$PODMAN5_NETWORK.json" 644 <<EOF
{
  "name": "$PODMAN5_NETWORK",
  "id": "$network_id",
  "driver": "bridge",
  "network_interface": "$PODMAN5_BRIDGE",
  "created": "2025-01-01T00:00:00Z",
  "subnets": [
    {
      "subnet": "$PODMAN5_SUBNET",
      "gateway": "$PODMAN5_GATEWAY"
    }
  ],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {
    "driver": "host-local"
  }
}
EOF
}

# Write the configuration of Debian 13's Podman 5 unpacked on Debian 12.
write_podman5_config() {
    write_file "$PODMAN5_CONF" 644 <<EOF
# Podman 5 from Debian 13 on Debian 12 (written by statecraft.podman's
# scripts/setup.sh). Used through $BIN_DIR/podman5.
[containers]
# Podman's default limits (nofile 1048576, nproc 32768) are above the hard
# limits of these machines, and raising them needs CAP_SYS_RESOURCE.
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[network]
$(podman5_network_settings)
# Debian 13's netavark 1.14 defaults to nftables and then needs the nft
# program. The iptables driver works with the iptables that Podman 4's
# netavark already uses.
firewall_driver = "iptables"

[engine]
# Debian 12's runc. crun (Podman's default) is not used because Debian 12's
# crun fails on hybrid cgroups and is built without CRIU.
runtime = "runc"
conmon_path = ["$PODMAN5_ROOT/usr/bin/conmon"]
helper_binaries_dir = ["$PODMAN5_ROOT/usr/lib/podman"]
# Podman 4 keeps its state in /run/libpod and its container locks in the
# shared memory segment /dev/shm/libpod_lock, which Podman 5 would share by
# default. A separate state folder and file locks keep "podman system
# renumber" of one engine from freeing the locks of the other.
tmp_dir = "$PODMAN5_RUNROOT/libpod"
lock_type = "file"

[engine.runtimes]
runc = ["/usr/bin/runc"]
EOF

    # Podman 5 cannot open Podman 4's store, so it gets its own.
    write_file "$PODMAN5_STORAGE_CONF" 644 <<EOF
# Store of Podman 5 (written by statecraft.podman's scripts/setup.sh).
[storage]
driver = "overlay"
graphroot = "$PODMAN5_GRAPHROOT"
runroot = "$PODMAN5_RUNROOT"
EOF
}

# ---------------------------------------------------------------- wrappers

write_podman4_config() {
    write_file "$PODMAN4_CONF" 644 <<'EOF'
# Podman 4 (Debian 12's podman), written by statecraft.podman's
# scripts/setup.sh. Podman's defaults cannot create a container here: its
# default limits (nofile 1048576, nproc 32768) are above the machine's hard
# limits, and crun fails on hybrid cgroups and has no CRIU support.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
EOF
}

# Write BIN_DIR/NAME, a wrapper that runs PODMAN with the given variables.
# conmon, and the "podman container cleanup" that it starts when a container
# exits, inherit these variables from podman (seen with Podman 4.3.1 and
# 5.4.2), so the cleanup reads the same configuration.
write_podman_wrapper() {
    local name=$1 podman=$2 exports=$3
    write_file "$BIN_DIR/$name" 755 <<EOF
#!/bin/sh
# Written by statecraft.podman's scripts/setup.sh. runc finds criu through
# PATH, so /usr/local/sbin (where the CRIU 4 wrapper lives on Debian 12)
# comes first.
$exports
PATH=/usr/local/sbin:\${PATH:-/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
export PATH
exec $podman "\$@"
EOF
}

# ---------------------------------------------------------------- test image

# Hash of everything that goes into the test image, stored as a label so a
# changed memhog.c or applet list rebuilds the image.
test_image_hash() {
    {
        cat "$SCRIPT_DIR/memhog.c"
        printf '%s\n' "$TEST_IMAGE_APPLETS" "$TEST_IMAGE_HOST_TOOLS"
        dpkg-query -W -f='${Version}\n' busybox-static util-linux libc6
    } | sha256sum | cut -d ' ' -f 1
}

build_test_rootfs() {
    local rootfs=$1 applets applet tool path library
    mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/dev" "$rootfs/proc" "$rootfs/sys" \
        "$rootfs/root" "$rootfs/run" "$rootfs/tmp" "$rootfs/var/tmp"
    chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
    cp /bin/busybox "$rootfs/bin/busybox"
    applets=$(/bin/busybox --list)
    for applet in $TEST_IMAGE_APPLETS; do
        grep -qx "$applet" <<<"$applets" || die "busybox-static has no '$applet' applet"
        ln -s busybox "$rootfs/bin/$applet"
    done
    for tool in $TEST_IMAGE_HOST_TOOLS; do
        path=$(command -v "$tool") || die "$tool not found on this machine"
        cp "$path" "$rootfs/bin/$tool"
        for library in $(ldd "$path" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
            mkdir -p "$rootfs$(dirname "$library")"
            cp -L "$library" "$rootfs$library"
        done
    done
    gcc -static -O2 -Wall -Wextra -Werror -o "$rootfs/bin/memhog" "$SCRIPT_DIR/memhog.c"
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\n' >"$rootfs/etc/group"
}

ensure_test_image() {
    local podman=$1 hash=$2 current old_id error
    current=$("$podman" image inspect --format "{{index .Labels \"$TEST_IMAGE_LABEL\"}}" \
        "$TEST_IMAGE" 2>/dev/null || true)
    if [ "$current" = "$hash" ]; then
        log "$(basename "$podman"): image $TEST_IMAGE present"
        return 0
    fi
    old_id=$("$podman" image inspect --format '{{.Id}}' "$TEST_IMAGE" 2>/dev/null || true)
    if [ ! -d "$WORK_DIR/rootfs" ]; then
        build_test_rootfs "$WORK_DIR/rootfs"
    fi
    log "$(basename "$podman"): importing $TEST_IMAGE"
    tar --numeric-owner -C "$WORK_DIR/rootfs" -cf - . |
        "$podman" import --quiet --change 'CMD ["/bin/sh"]' \
            --change "LABEL $TEST_IMAGE_LABEL=$hash" - "$TEST_IMAGE" >/dev/null
    # podman rmi fails while a container still uses the old image, which
    # then stays untagged.
    if [ -n "$old_id" ] && ! error=$("$podman" rmi "$old_id" 2>&1 >/dev/null); then
        log "$(basename "$podman"): kept old image ${old_id:0:12}: $(tail -n 1 <<<"$error")"
    fi
}

# ---------------------------------------------------------------- checks

wait_for_log_line() {
    local podman=$1 name=$2 line=$3 output
    for _ in $(seq 1 50); do
        output=$("$podman" logs "$name" 2>/dev/null || true)
        if grep -qx "$line" <<<"$output"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# Run a container, checkpoint it into an archive, restore the archive under
# a new name and remove both: this needs podman, conmon, runc, CRIU and the
# network to work together.
check_checkpoint_round_trip() {
    local podman=$1 label name restored archive state
    label=$(basename "$podman")
    name="statecraft-setup-$label-$$-$RANDOM"
    restored="$name-restored"
    archive="$WORK_DIR/$name.tar.zst"
    CHECK_CONTAINERS+=("$podman $name" "$podman $restored")

    "$podman" run -d --name "$name" "$TEST_IMAGE" /bin/memhog 8 >/dev/null ||
        die "$label: podman run of $TEST_IMAGE as $name failed"
    wait_for_log_line "$podman" "$name" ready ||
        die "$label: memhog in container $name did not print 'ready'"
    "$podman" container checkpoint --export "$archive" "$name" >/dev/null ||
        die "$label: checkpoint of $name failed"
    "$podman" container restore --import "$archive" --name "$restored" >/dev/null ||
        die "$label: restore of $archive as $restored failed"
    state=$("$podman" inspect --format '{{.State.Status}}' "$restored")
    [ "$state" = running ] || die "$label: restored container $restored is $state, not running"
    "$podman" rm -f -t 0 "$name" "$restored" >/dev/null
    if "$podman" container exists "$name" || "$podman" container exists "$restored"; then
        die "$label: containers $name and $restored were not removed"
    fi
    log "$label: run, checkpoint --export, restore --import: ok"
}

check_podman5_network() {
    local bridge
    bridge=$("$BIN_DIR/podman5" network inspect --format '{{.NetworkInterface}}' "$PODMAN5_NETWORK")
    [ "$bridge" = "$PODMAN5_BRIDGE" ] ||
        die "podman5 network $PODMAN5_NETWORK uses bridge '$bridge', expected $PODMAN5_BRIDGE"
}

# ---------------------------------------------------------------- Python

setup_venv() {
    local python stamp wanted
    if [ -x "$PYENV_PYTHON" ]; then
        python=$PYENV_PYTHON
    else
        python=$(command -v python3) || die "python3 not found"
    fi
    [ -f "$REQUIREMENTS" ] || die "$REQUIREMENTS not found"

    if ! "$VENV_DIR/bin/python" -c 'import sys' >/dev/null 2>&1; then
        log "creating virtual environment $VENV_DIR with $python"
        rm -rf "$VENV_DIR"
        "$python" -m venv "$VENV_DIR"
    fi

    stamp=$VENV_DIR/.statecraft-requirements.sha256
    wanted=$( (cat "$REQUIREMENTS"; "$VENV_DIR/bin/python" --version) | sha256sum | cut -d ' ' -f 1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        log "Python packages present: $VENV_DIR"
        return 0
    fi
    log "installing $REQUIREMENTS into $VENV_DIR"
    if ! "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$REQUIREMENTS" >"$WORK_DIR/pip.log" 2>&1; then
        tail -n 20 "$WORK_DIR/pip.log" >&2
        die "pip install -r $REQUIREMENTS failed"
    fi
    printf '%s\n' "$wanted" >"$stamp"
}

# ---------------------------------------------------------------- main

# Podman 4 from Debian 12, Podman 5 and CRIU 4 from Debian 13.
setup_debian12() {
    configure_trixie_source
    # shellcheck disable=SC2086 # word list
    install_packages $BASE_PACKAGES patchelf
    setup_criu_from_trixie
    setup_podman5_from_trixie

    write_podman4_config
    write_podman5_config
    write_podman5_network
    write_podman_wrapper podman4 /usr/bin/podman "export CONTAINERS_CONF=$PODMAN4_CONF"
    write_podman_wrapper podman5 "$PODMAN5_ROOT/usr/bin/podman" \
        "export CONTAINERS_CONF=$PODMAN5_CONF
export CONTAINERS_STORAGE_CONF=$PODMAN5_STORAGE_CONF
export PODMAN_IGNORE_CGROUPSV1_WARNING=1"
    link_file podman4 "$BIN_DIR/podman"
    WRAPPERS="$BIN_DIR/podman4 $BIN_DIR/podman5"
}

# Debian 13's own Podman 5 and CRIU 4, in the system's store.
# NOTE: this path has run in a Debian 13 root file system on a Debian 12
# machine (its kernel and cgroups), not yet on a Debian 13 machine.
setup_debian13() {
    # Debian 13's netavark runs the nft program by default, and its package
    # only recommends nftables.
    # shellcheck disable=SC2086 # word list
    install_packages $BASE_PACKAGES criu nftables
    criu_works || die "'criu check' does not print 'Looks good': $(criu check 2>&1 | tail -n 3)"

    write_file "$PODMAN5_CONF" 644 <<EOF
# Podman 5 (Debian 13's podman), written by statecraft.podman's
# scripts/setup.sh. Podman's default limits (nofile 1048576, nproc 32768)
# are above the hard limits of these machines, and runc is the runtime the
# project tests with.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[network]
$(podman5_network_settings)

[engine]
runtime = "runc"
EOF
    write_podman5_network
    write_podman_wrapper podman5 /usr/bin/podman "export CONTAINERS_CONF=$PODMAN5_CONF
export PODMAN_IGNORE_CGROUPSV1_WARNING=1"
    link_file podman5 "$BIN_DIR/podman"
    WRAPPERS="$BIN_DIR/podman5"
}

print_summary() {
    local podman summary="" criu_version ansible_version
    for podman in $WRAPPERS; do
        summary="$summary$(basename "$podman") $("$podman" version --format '{{.Client.Version}}'), "
    done
    criu_version=$(criu --version | awk '/^Version:/ { print $2 }')
    ansible_version=$("$VENV_DIR/bin/python" -c 'import ansible.release; print(ansible.release.__version__)')
    log "done in $((SECONDS - START_SECONDS)) s: ${summary}runc $(runc --version | awk 'NR == 1 { print $3 }'), criu $criu_version, ansible-core $ansible_version"
}

main() {
    local debian_major hash podman

    [ "$(id -u)" -eq 0 ] || die "run as root"
    [ "$(dpkg --print-architecture)" = amd64 ] ||
        die "only amd64 is supported, this machine is $(dpkg --print-architecture)"
    debian_major=$(cut -d . -f 1 /etc/debian_version)
    case $debian_major in
    12 | 13) ;;
    trixie/sid) debian_major=13 ;;
    *) die "unsupported Debian version $(cat /etc/debian_version); expected 12 or 13" ;;
    esac
    log "Debian $debian_major, repository $REPO_DIR"
    WORK_DIR=$(mktemp -d /tmp/statecraft-setup.XXXXXX)

    if [ ! -x "$PYENV_PYTHON" ]; then
        BASE_PACKAGES="$BASE_PACKAGES python3-venv"
    fi
    "setup_debian$debian_major"
    # shellcheck disable=SC2086 # word list
    printf '%s\n' $WRAPPERS | write_file "$VERSIONS_FILE" 644

    hash=$(test_image_hash)
    for podman in $WRAPPERS; do
        "$podman" version >/dev/null || die "'$podman version' failed"
        ensure_test_image "$podman" "$hash"
    done
    check_podman5_network
    for podman in $WRAPPERS; do
        check_checkpoint_round_trip "$podman"
    done

    setup_venv
    print_summary
}

main "$@"
