#!/bin/sh
# scripts/test_fresh.sh [ROOT] - the README's two commands on a freshly
# bootstrapped Debian 12 (make test-fresh; root only; not part of CI: it
# downloads a system and every test dependency, 15-25 min).
#
# debootstrap --variant=minbase builds ROOT (default build/fresh-root); the
# committed tree (git archive HEAD: what a clone holds, nothing built) goes
# to ROOT/src; then `make demo` and `make test` run inside it. A minbase
# root has no make: installing it is the one step before the two commands
# (README, "Two commands"). /proc and /dev are mounted; /sys is not unless
# FRESH_SYS=1, as in a container without it (Open MPI's hwloc then notes
# the missing topology on every rank: the tests must not care).
set -eu
[ "$(id -u)" = 0 ] || { echo "test_fresh.sh: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
root=${1:-build/fresh-root}
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null 2>&1 || apt-get install -y debootstrap
case "$root" in /*) ;; *) root=$(pwd)/$root ;; esac
cleanup() {
    for m in dev/pts dev proc sys; do umount "$root/$m" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
if [ ! -x "$root/bin/sh" ]; then
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" "$mirror"
fi
rm -rf "$root/src" && mkdir -p "$root/src"
git archive HEAD | tar -x -C "$root/src"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
[ "${FRESH_SYS:-0}" = 1 ] && mount --bind /sys "$root/sys"
echo "test_fresh.sh: $(cat "$root/etc/debian_version") in $root, /sys $([ "${FRESH_SYS:-0}" = 1 ] && echo mounted || echo absent)"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive sh -c '
    set -e
    apt-get update -q
    apt-get install -y -q make
    cd /src
    make demo
    make test
'
echo "test_fresh.sh: make demo and make test passed in a fresh Debian $(cat "$root/etc/debian_version")"
