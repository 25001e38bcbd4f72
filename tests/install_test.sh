#!/bin/sh
# tests/install_test.sh MAKE WORKDIR CC - `make install` into temporary
# prefixes, then a user's program built the three ways a C user builds one:
#   1. DESTDIR staging: every file lands under DESTDIR/PREFIX, the .pc names
#      PREFIX (not DESTDIR), the .so symlinks resolve;
#   2. a real prefix, each consumer of tests/install_app.c run:
#      a. CMake: find_package(hardreid 0.x) in a fresh project, one
#         executable on hardreid::hardreid (imports hr_difficulty from the
#         .so), one on hardreid::header (defines it); a request for another
#         minor version is refused (0.x: the minor is the ABI);
#      b. pkg-config: --cflags --libs links the .so and carries no OpenMP
#         or SLEEF (Libs.private, for --static, does);
#      c. header only: -I and the libraries the implementation needs;
#   3. the installed CLI runs, and man finds its page under share/man.
set -u
MAKE=$1 DIR=$2 CC=$3
rm -rf "$DIR" && mkdir -p "$DIR" || exit 1
DIR=$(cd "$DIR" && pwd)
SRC=$(pwd)
fail=0
bad() { fail=1; echo "FAIL: $*"; }
command -v pkg-config >/dev/null 2>&1 || { echo "install test needs pkg-config (Debian package pkg-config)"; exit 1; }
VERSION=$(sed -n 's/^#define HARDREID_VERSION_STRING "\(.*\)"/\1/p' hardreid.h)
MINOR=${VERSION%.*}                        # 0.4.0 -> 0.4
OTHER=${MINOR%.*}.$((${MINOR#*.} + 1))     # 0.5: not ABI-compatible with 0.4
STRICT="-std=c99 -Wall -Wextra -pedantic -Werror"

# 1. DESTDIR
$MAKE --no-print-directory -s install DESTDIR="$DIR/stage" PREFIX=/opt/hardreid >"$DIR/log" 2>&1 ||
    { cat "$DIR/log"; bad "make install DESTDIR=..."; }
S=$DIR/stage/opt/hardreid
for f in include/hardreid.h bin/hardreid-difficulty lib/libhardreid.so lib/pkgconfig/hardreid.pc \
         lib/cmake/hardreid/hardreid-config.cmake lib/cmake/hardreid/hardreid-config-version.cmake \
         share/man/man1/hardreid-difficulty.1 share/man/man1/hardreid-mpi.1 share/doc/hardreid/LICENSE; do
    [ -e "$S/$f" ] || bad "DESTDIR install lacks $f"
done
grep -q '^prefix=/opt/hardreid$' "$S/lib/pkgconfig/hardreid.pc" || bad "hardreid.pc prefix is not PREFIX"
grep -q '@[A-Z_]*@' "$S"/lib/cmake/hardreid/*.cmake "$S/lib/pkgconfig/hardreid.pc" && bad "an @FIELD@ left unfilled"
[ -x "$S/bin/hardreid-difficulty" ] || bad "CLI not executable"

# 2. a real prefix, used the way a user would
P=$DIR/prefix
$MAKE --no-print-directory -s install PREFIX="$P" >"$DIR/log" 2>&1 || { cat "$DIR/log"; bad "make install PREFIX=..."; }

# 2a. CMake: a fresh project that knows nothing but the prefix
if command -v cmake >/dev/null 2>&1; then
    mkdir -p "$DIR/cmake"
    cat >"$DIR/cmake/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.13)
project(hardreid_consumer C)
find_package(hardreid $MINOR REQUIRED)
message(STATUS "found hardreid \${hardreid_VERSION} in \${hardreid_DIR}")
add_executable(app_so "$SRC/tests/install_app.c")
target_link_libraries(app_so PRIVATE hardreid::hardreid)
add_executable(app_header "$SRC/tests/install_app.c")
target_compile_definitions(app_header PRIVATE HEADER_ONLY)
target_link_libraries(app_header PRIVATE hardreid::header)
# a request for another minor version: 0.x breaks the ABI at each minor
find_package(hardreid $OTHER QUIET)
if(hardreid_FOUND)
  message(FATAL_ERROR "find_package(hardreid $OTHER) accepted hardreid \${hardreid_VERSION}")
endif()
EOF
    if cmake -S "$DIR/cmake" -B "$DIR/cmake/build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$CC" \
         -DCMAKE_C_FLAGS="$STRICT" >"$DIR/cmake.log" 2>&1 &&
       cmake --build "$DIR/cmake/build" >>"$DIR/cmake.log" 2>&1; then
        B=$DIR/cmake/build
        (cd "$DIR" && "$B/app_so" && "$B/app_header") || bad "CMake consumers did not run"
        nm "$B/app_so" 2>/dev/null | grep -q ' U hr_difficulty$' || bad "hardreid::hardreid program does not import hr_difficulty"
        nm "$B/app_header" 2>/dev/null | grep -q ' T hr_difficulty$' || bad "hardreid::header program does not define hr_difficulty"
        readelf -d "$B/app_header" | grep -q 'libhardreid' && bad "hardreid::header program needs libhardreid.so"
        grep -q "^-- found hardreid $VERSION in $P/" "$DIR/cmake.log" || bad "find_package found: $(grep found "$DIR/cmake.log")"
    else
        cat "$DIR/cmake.log"; bad "CMake find_package(hardreid $MINOR) consumer"
    fi
else
    sh scripts/missing.sh "cmake (the find_package consumer)" "apt-get install cmake" || fail=1
fi

# 2b. pkg-config: the shared library, nothing forced on the consumer's code
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
flags=$(pkg-config --cflags --libs hardreid) || bad "pkg-config --cflags --libs hardreid"
[ "$(pkg-config --modversion hardreid)" = "$VERSION" ] || bad "pkg-config --modversion disagrees with hardreid.h"
echo "pkg-config --cflags --libs hardreid: $flags"
case " $flags " in *openmp*|*sleef*) bad "hardreid.pc forces OpenMP or SLEEF on the consumer: $flags" ;; esac
case " $(pkg-config --static --libs hardreid) " in *-fopenmp*-lsleef*) ;;
    *) bad "pkg-config --static --libs lacks the library's own dependencies: $(pkg-config --static --libs hardreid)" ;; esac
# shellcheck disable=SC2086
$CC $STRICT -o "$DIR/app_so" tests/install_app.c $flags -Wl,-rpath,"$P/lib" &&
    (cd "$DIR" && ./app_so) || bad "program linked against libhardreid.so"
nm "$DIR/app_so" 2>/dev/null | grep -q ' U hr_difficulty$' || bad "linked program does not import hr_difficulty"

# 2c. header only: the include path and -lm alone (SLEEF is a weak
# reference of the heads' code, libm's expf where it is not linked).
HDR_LIBS="-lm"
# shellcheck disable=SC2086
$CC $STRICT -DHEADER_ONLY -I"$P/include" -o "$DIR/app_header" tests/install_app.c $HDR_LIBS &&
    (cd "$DIR" && ./app_header) || bad "header-only program"
nm "$DIR/app_header" 2>/dev/null | grep -q ' T hr_difficulty$' || bad "header-only program does not define hr_difficulty"

# 3. the installed tools and pages
"$P/bin/hardreid-difficulty" --help >/dev/null || bad "installed CLI --help"
[ "$("$P/bin/hardreid-difficulty" --version)" = "hardreid-difficulty (hardreid) $VERSION" ] || bad "installed CLI --version"
if command -v man >/dev/null 2>&1; then
    MANPATH="$P/share/man" man -w hardreid-difficulty 2>/dev/null | grep -q "^$P/share/man/man1/hardreid-difficulty.1" ||
        bad "man -w hardreid-difficulty does not find the installed page"
fi
cmp -s LICENSE "$P/share/doc/hardreid/LICENSE" || bad "installed LICENSE differs"
if [ $fail = 0 ]; then echo "install tests: ok (CMake, pkg-config, header-only consumers)"; exit 0; fi
exit 1
