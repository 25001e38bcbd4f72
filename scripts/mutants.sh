#!/usr/bin/env bash
# scripts/mutants.sh - mutation check of the exact sampler tests (issue 17).
#
# Each mutant below is a plausible sampler bug that the statistical tests of
# tests/test_sampling.c let through. For each one: copy hardreid.h to a
# temporary directory, apply the edit there (every pattern must occur
# exactly once, or the script stops: a change to the header must not make
# it pass silently), build tests/test_sampler_exact.c against the copy
# with the mini harness (one process, exit status = verdict), run it and
# expect a failure. The unmutated header must pass first. Path-specific
# mutants (AVX2, AVX-512, NEON) run where that path runs: the CPU has it,
# or, for NEON, an AArch64 cross compiler and qemu-aarch64 are present
# (HR_MUTANTS_NEON=0 skips them). The repository is never written.
#
#   bash scripts/mutants.sh          (or: make test-mutants)
# Environment: CC, AARCH64_CC, QEMU_AARCH64 (as in the Makefile),
# HR_MUTANTS_NEON=0|1|auto. Exit status: 0 if every mutant that ran was
# killed and the unmutated header passed; 1 if a mutant survived; 2 on a
# setup error (pattern not found, build failure).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
AARCH64_CC=${AARCH64_CC:-aarch64-linux-gnu-gcc}
QEMU_AARCH64=${QEMU_AARCH64:-qemu-aarch64 -L /usr/aarch64-linux-gnu}
HR_MUTANTS_NEON=${HR_MUTANTS_NEON:-auto}
TEST=test_sampler_exact.c
CFLAGS_X86=(-std=c99 -O2 -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes
            -DHR_TEST_MINI -DHR_NO_SLEEF)
CFLAGS_NEON=(-std=c99 -O2 -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes
             -DHR_TEST_MINI -DHR_TEST_QUICK -DHR_NO_SLEEF -static)

work=$(mktemp -d "${TMPDIR:-/tmp}/hr-mutants.XXXXXX")
trap 'rm -rf "$work"' EXIT

die() { echo "mutants.sh: $*" >&2; exit 2; }

# ---- the mutants: name, path it needs, description, then OLD/NEW pairs ------
# (the pairs are literal text of hardreid.h, each exactly once)
M_NAME=() M_PATH=() M_DESC=()
add() { # add NAME PATH DESC OLD NEW [OLD NEW ...]
    local i=${#M_NAME[@]}
    M_NAME[i]=$1 M_PATH[i]=$2 M_DESC[i]=$3
    shift 3
    (( $# >= 2 && $# % 2 == 0 )) || die "mutant ${M_NAME[i]}: OLD/NEW pairs"
    # bash has no arrays of arrays: mutant i's pairs live in M_EDITS_i
    eval "M_EDITS_$i=(\"\$@\")"
}

add M1 any "alias masses truncated instead of rounded to nearest (hr_alias_build)" \
    'double x = (double)w[i + j] * scale + 0.5;' \
    'double x = (double)w[i + j] * scale;'
add M2 any "coin compare < changed to <= (hr_alias_draw; the scalar batched path too)" \
    'return (uint32_t)(x >> 32) < (uint32_t)e ? col : (uint32_t)(e >> 32);' \
    'return (uint32_t)(x >> 32) <= (uint32_t)e ? col : (uint32_t)(e >> 32);'
add M3 any "exact fallback uniform over the remaining categories, not proportional (hr__alias_draw_excluding)" \
    'part[0] = own; who[0] = j;' \
    'part[0] = own != 0; who[0] = j;' \
    'part[1] = HR__MASS - own; who[1] = al;' \
    'part[1] = 0; who[1] = al;'
add M2-avx2 avx2 "coin compare < changed to <= in the AVX2 batched draw" \
    'return _mm256_blendv_epi8(p, e, _mm256_cmpeq_epi32(_mm256_max_epu32(x, t), x));' \
    'return _mm256_blendv_epi8(p, e, _mm256_andnot_si256(_mm256_cmpeq_epi32(x, t), _mm256_cmpeq_epi32(_mm256_max_epu32(x, t), x)));'
add M2-avx512 avx512 "coin compare < changed to <= in the AVX-512 batched draw" \
    'keep_ = _mm512_cmplt_epu64_mask(' \
    'keep_ = _mm512_cmple_epu64_mask('
add M2-neon neon "coin compare < changed to <= in the NEON batched draw" \
    'out[i + k] = (uint32_t)(xs[k] >> 32) < (uint32_t)e ? col' \
    'out[i + k] = (uint32_t)(xs[k] >> 32) <= (uint32_t)e ? col'

# ---- which paths run here ------------------------------------------------------
cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has_flag() { [[ " $cpu_flags " == *" $1 "* ]]; }
x86=0
case $($CC -dumpmachine 2>/dev/null) in x86_64*|amd64*) x86=1 ;; esac
path_ok() { # path_ok PATH -> 0 if that path runs here
    case $1 in
        any) return 0 ;;
        avx2) (( x86 )) && has_flag avx2 && has_flag fma ;;
        avx512) (( x86 )) && has_flag avx512f ;;
        neon) (( neon )) ;;
    esac
}
neon=0
if [[ $HR_MUTANTS_NEON != 0 ]]; then
    if command -v "$AARCH64_CC" >/dev/null 2>&1 &&
       command -v "${QEMU_AARCH64%% *}" >/dev/null 2>&1; then
        neon=1
    elif [[ $HR_MUTANTS_NEON == 1 ]]; then
        die "HR_MUTANTS_NEON=1 but $AARCH64_CC or ${QEMU_AARCH64%% *} is missing"
    fi
fi

# ---- helpers -----------------------------------------------------------------
# mutate SRC DST OLD NEW [OLD NEW ...]: DST = SRC with each OLD (exactly one
# occurrence, literal text) replaced by NEW
mutate() {
    perl -e '
        my ($src, $dst, @p) = @ARGV;
        open(my $f, "<", $src) or die "$src: $!\n";
        local $/; my $s = <$f>; close $f;
        while (@p) {
            my ($old, $new) = splice(@p, 0, 2);
            my ($n, $at) = (0, 0);
            while (($at = index($s, $old, $at)) >= 0) { $n++; $at += length $old; }
            die "pattern found $n times (want exactly 1): $old\n" if $n != 1;
            my $i = index($s, $old);
            substr($s, $i, length $old) = $new;
        }
        open(my $g, ">", $dst) or die "$dst: $!\n";
        print $g $s; close $g;
    ' "$@"
}

# build DIR TARGET(x86|neon): the test and the implementation TU, against
# DIR/hardreid.h only (the sources are copied next to it, no -I into the
# repository, so the original header cannot be picked up)
build() {
    local dir=$1 target=$2
    cp "$root/tests/impl.c" "$root/tests/harness.h" "$root/tests/$TEST" "$dir/"
    if [[ $target == x86 ]]; then
        $CC "${CFLAGS_X86[@]}" -I"$dir" -o "$dir/t-x86" "$dir/impl.c" "$dir/$TEST" -lm \
            >"$dir/build-x86.log" 2>&1
    else
        $AARCH64_CC "${CFLAGS_NEON[@]}" -I"$dir" -o "$dir/t-neon" "$dir/impl.c" "$dir/$TEST" -lm \
            >"$dir/build-neon.log" 2>&1
    fi || { cat "$dir/build-$target.log" >&2; die "build failed: $dir ($target)"; }
}

# run DIR TARGET -> exit status of the test binary; log in DIR/run-TARGET.log
run() {
    local dir=$1 target=$2 rc=0
    if [[ $target == x86 ]]; then
        timeout 300 "$dir/t-x86" >"$dir/run-x86.log" 2>&1 || rc=$?
    else
        # shellcheck disable=SC2086  # QEMU_AARCH64 is a command line
        timeout 600 $QEMU_AARCH64 "$dir/t-neon" >"$dir/run-neon.log" 2>&1 || rc=$?
    fi
    return $rc
}

summary() { # the failed tests of a run, and the first failed check
    local log=$1
    local tests first
    tests=$(sed -n 's/^\[FAIL\] \([^ :]*::[^ :]*\).*/\1/p' "$log" | sort -u | tr '\n' ' ')
    first=$(grep -m1 ': failed: ' "$log" | sed 's|^[^ ]*/||' | cut -c1-200 || true)
    echo "killed by: ${tests:-(no [FAIL] line: exit status only)}"
    [[ -n $first ]] && echo "      first failed check: $first"
    return 0
}

# ---- unmutated header: must pass ---------------------------------------------
targets=()
(( x86 )) && targets+=(x86)
(( neon )) && targets+=(neon)
(( ${#targets[@]} )) || die "neither an x86 compiler ($CC) nor the NEON tools"
mkdir "$work/orig"
cp "$root/hardreid.h" "$work/orig/hardreid.h"
for t in "${targets[@]}"; do
    build "$work/orig" "$t"
    if ! run "$work/orig" "$t"; then
        cat "$work/orig/run-$t.log" >&2
        echo "unmutated header: FAILED on $t: the check means nothing until it passes" >&2
        exit 1
    fi
    echo "unmutated header [$t]: $(tail -n1 "$work/orig/run-$t.log")"
done

# ---- each mutant: must fail --------------------------------------------------
survived=0 killed=0 skipped=0
for i in "${!M_NAME[@]}"; do
    name=${M_NAME[i]} path=${M_PATH[i]}
    eval "edits=(\"\${M_EDITS_$i[@]}\")"
    dir="$work/$name"
    mkdir "$dir"
    # the pattern is checked even where the mutant cannot run here
    mutate "$root/hardreid.h" "$dir/hardreid.h" "${edits[@]}" ||
        die "$name: the header changed; update the mutant's pattern"
    if ! path_ok "$path"; then
        echo "$name: $path path not run here: skipped (${M_DESC[i]})"
        skipped=$((skipped + 1))
        continue
    fi
    if [[ $path == neon ]]; then t=neon; elif (( x86 )); then t=x86; else t=neon; fi
    build "$dir" "$t"
    rc=0
    run "$dir" "$t" || rc=$?
    echo "$name [$t]: ${M_DESC[i]}"
    if (( rc == 0 )); then
        echo "  SURVIVED: $(tail -n1 "$dir/run-$t.log")"
        survived=$((survived + 1))
    else
        if (( rc == 124 || rc == 137 )); then echo "  (timed out)"; fi
        echo "  $(tail -n1 "$dir/run-$t.log"); $(summary "$dir/run-$t.log")"
        killed=$((killed + 1))
    fi
done

echo "mutants: $killed killed, $survived survived, $skipped not run here"
(( survived == 0 )) || exit 1
