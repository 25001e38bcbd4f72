#!/bin/sh
# tests/install_test.sh MAKE WORKDIR CC - `make install` into temporary
# prefixes, then a user's program built with nothing but pkg-config's flags:
#   1. DESTDIR staging: every file lands under DESTDIR/PREFIX, the .pc names
#      PREFIX (not DESTDIR), the .so symlinks resolve;
#   2. a real prefix: tests/install_app.c header-only and against
#      libhardreid.so, both run; the installed CLI runs --help.
set -u
MAKE=$1 DIR=$2 CC=$3
rm -rf "$DIR" && mkdir -p "$DIR" || exit 1
DIR=$(cd "$DIR" && pwd)
fail=0
bad() { fail=1; echo "FAIL: $*"; }
command -v pkg-config >/dev/null 2>&1 || { echo "install test needs pkg-config (Debian package pkg-config)"; exit 1; }

# 1. DESTDIR
$MAKE --no-print-directory -s install DESTDIR="$DIR/stage" PREFIX=/opt/hardreid >"$DIR/log" 2>&1 ||
    { cat "$DIR/log"; bad "make install DESTDIR=..."; }
S=$DIR/stage/opt/hardreid
for f in include/hardreid.h bin/hardreid-difficulty lib/libhardreid.so lib/pkgconfig/hardreid.pc; do
    [ -e "$S/$f" ] || bad "DESTDIR install lacks $f"
done
grep -q '^prefix=/opt/hardreid$' "$S/lib/pkgconfig/hardreid.pc" || bad "hardreid.pc prefix is not PREFIX"
[ -x "$S/bin/hardreid-difficulty" ] || bad "CLI not executable"

# 2. a real prefix, used the way a user would
P=$DIR/prefix
$MAKE --no-print-directory -s install PREFIX="$P" >"$DIR/log" 2>&1 || { cat "$DIR/log"; bad "make install PREFIX=..."; }
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
flags=$(pkg-config --cflags --libs hardreid) || bad "pkg-config --cflags --libs hardreid"
[ "$(pkg-config --modversion hardreid)" = "$(sed -n 's/^#define HARDREID_VERSION_STRING "\(.*\)"/\1/p' hardreid.h)" ] ||
    bad "pkg-config --modversion disagrees with hardreid.h"
echo "pkg-config --cflags --libs hardreid: $flags"
# shellcheck disable=SC2086
$CC -std=c99 -Wall -Wextra -pedantic -Werror -DHEADER_ONLY -o "$DIR/app_header" tests/install_app.c $flags -Wl,--as-needed &&
    (cd "$DIR" && LD_LIBRARY_PATH=$P/lib ./app_header) || bad "header-only program"
# the implementation came from the program itself, not the library
nm "$DIR/app_header" 2>/dev/null | grep -q ' T hr_difficulty$' || bad "header-only program does not define hr_difficulty"
# shellcheck disable=SC2086
$CC -std=c99 -Wall -Wextra -pedantic -Werror -o "$DIR/app_so" tests/install_app.c $flags -Wl,-rpath,"$P/lib" &&
    (cd "$DIR" && ./app_so) || bad "program linked against libhardreid.so"
nm "$DIR/app_so" 2>/dev/null | grep -q ' U hr_difficulty$' || bad "linked program does not import hr_difficulty"
"$P/bin/hardreid-difficulty" --help >/dev/null || bad "installed CLI --help"
if [ $fail = 0 ]; then echo "install tests: ok"; exit 0; fi
exit 1
