#!/bin/sh
# Install (or name) the Debian packages a make target needs.
#   sh scripts/deps.sh demo|test|bench|plots|hardening|mpi|glyphset ...
# As root on Debian/Ubuntu: apt-get installs what is missing. Otherwise: prints
# the exact command to run and fails, so nothing half-works silently.
set -u
pkgs=""
for group in "$@"; do
    case "$group" in
    demo)  pkgs="$pkgs gcc make libc6-dev libsleef-dev libstb-dev" ;;
    test)  pkgs="$pkgs gcc g++ make libc6-dev libsleef-dev libsleef-dev:arm64 libstb-dev clang libcriterion-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user python3-numpy python3-torch python3-venv python3-setuptools python3-wheel python3-pytest pkg-config libopenmpi-dev openmpi-bin" ;;
    bench) pkgs="$pkgs gcc g++ make libsleef-dev libopenblas-dev libopenblas0-openmp libfaiss-dev libgsl-dev libdnnl-dev" ;;
    plots) pkgs="$pkgs gnuplot-nox hyperfine python3-numpy" ;;
    mpi)   pkgs="$pkgs gcc make libc6-dev libsleef-dev libopenmpi-dev openmpi-bin" ;;
    glyphset) pkgs="$pkgs python3-numpy python3-pil fonts-arphic-ukai fonts-arphic-gkai00mp fonts-arphic-uming fonts-ipafont-mincho fonts-hanazono fonts-wqy-zenhei fonts-wqy-microhei fonts-vlgothic" ;;
    hardening) pkgs="$pkgs gcc make libc6-dev libsleef-dev libstb-dev clang libclang-rt-dev libomp-dev libcriterion-dev valgrind" ;;
    *) echo "deps.sh: unknown group '$group' (demo, test, bench, plots, hardening, mpi, glyphset)" >&2; exit 2 ;;
    esac
done
missing=""
for p in $pkgs; do
    case " $missing " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps.sh ($*): every package present"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: missing packages:$missing" >&2
    echo "deps.sh: not a Debian system: install the equivalents of these with your package manager" >&2
    exit 1
fi
# an :arm64 package (the AArch64 SLEEF the NEON tests link) needs the
# foreign architecture enabled first
arch=""
case "$missing" in *:arm64*)
    dpkg --print-foreign-architectures | grep -qx arm64 || arch="arm64" ;;
esac
if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing" >&2
    [ -n "$arch" ] && echo "deps.sh: run:  sudo dpkg --add-architecture arm64" >&2
    echo "deps.sh: run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
[ -n "$arch" ] && dpkg --add-architecture arm64
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
    echo "deps.sh: apt-get install failed for:$missing" >&2; exit 1; }
