#!/bin/sh
# bench/versions.sh - is this tree's code no slower than an older revision's,
# path by path? (make bench-versions OLD=rev ISAS="scalar avx2")
#
# Builds bench/bench_versions.c twice, against the working tree's hardreid.h
# and against `git show OLD:hardreid.h`, with the same compiler and flags,
# then runs the two binaries alternately (old, new, old, new, ...) ROUNDS
# times per ISA on one thread. Prints per case the median over rounds of
# each binary's best time and the median over rounds of the ratio new/old
# (> 1: the new code is slower), then every round's ratio (the spread).
# Nothing here is a peer: OpenBLAS is not involved.
set -eu
OLD=${OLD:-8664093}
ISAS=${ISAS:-"scalar avx2"}
ROUNDS=${ROUNDS:-5}
BUILD=${BUILD:-build}
CC=${CC:-gcc}
FLAGS=${FLAGS:-"-std=c99 -O2 -g -fopenmp"}
LIBS=${LIBS:-"-lsleef -lm"}
out=$BUILD/versions
mkdir -p "$out/old"
git show "$OLD:hardreid.h" > "$out/old/hardreid.h"
# the bench's own helpers come from this tree; only the header differs
$CC $FLAGS -I"$out/old" -Ibench -o "$out/bench_old" bench/bench_versions.c $LIBS
$CC $FLAGS -I. -Ibench -o "$out/bench_new" bench/bench_versions.c $LIBS
old_id=$(git rev-parse --short "$OLD")
new_id=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- hardreid.h || echo -dirty)
echo "# versions: old $old_id, new $new_id; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $($CC --version | head -1); $FLAGS; 1 thread; $ROUNDS rounds; $(date -u +%Y-%m-%dT%H:%MZ)"
for isa in $ISAS; do
  q=; [ "$isa" = scalar ] && q=--quick
  : > "$out/$isa.txt"
  r=0
  while [ $r -lt "$ROUNDS" ]; do
    for v in old new; do
      HR_ISA=$isa OMP_NUM_THREADS=1 "$out/bench_$v" $q | sed "s/^/$v /" >> "$out/$isa.txt"
    done
    r=$((r + 1))
  done
  grep -q "^new # hardreid .* isa $isa\$" "$out/$isa.txt" || { echo "versions.sh: HR_ISA=$isa did not run on $isa" >&2; exit 1; }
  python3 - "$out/$isa.txt" "$isa" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    v, case, *rest = line.split()
    if case == "#": continue
    rows.setdefault(case, {"old": [], "new": []})[v].append(float(rest[0]))
print(f"## HR_ISA={sys.argv[2]}")
print("| case | old ms | new ms | new/old | per-round new/old |")
print("|---|---:|---:|---:|---|")
for case, t in rows.items():
    o, n = st.median(t["old"]), st.median(t["new"])
    ratios = [b / a for a, b in zip(t["old"], t["new"])]
    per = " ".join(f"{r:.2f}" for r in ratios)
    # the median of the rounds' ratios: old and new ran back to back in a
    # round, so a slow spell of the machine cancels in its ratio
    print(f"| {case} | {o * 1e3:.3f} | {n * 1e3:.3f} | {st.median(ratios):.3f} | {per} |")
PY
done
