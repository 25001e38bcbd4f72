#!/bin/sh
# examples/mpi/test_mpi.sh MPI_TOOL CLI NPY_GEN NPY_ROWS_TEST WORKDIR
#   1. npy_read_rows_file against the whole reader on every layout;
#   2. hardreid-mpi at 1-4 ranks (5 and 6 on one shape) writes the same bytes
#      as hardreid-difficulty: awkward N (N < P included) and d, float64,
#      Fortran order, big-endian, --unit-rows, exact ties (duplicate,
#      orthogonal and zero rows), --threads, --isa scalar; and its count of
#      computed pairs is N(N-1)/2;
#   3. bad input on some rank: every rank exits 1, exactly one line of the
#      tool's own (starting "hardreid-mpi:") naming the file and the problem,
#      no output (not even a temp file), an older output untouched;
#   4. options and outputs as the CLI's: --opt=V, --version, - for rank 0's
#      standard output, a symlinked output written through, --help against
#      the man page.
# The tests judge the tool's lines, not the MPI runtime's: Open MPI may add
# its own notes to stderr (in a root without /sys, hwloc prints "failed to
# find sysfs cpu topology directory" on every rank), and those are not ours.
# MPIRUN (default mpirun) launches; with Open MPI the run may oversubscribe
# the cores, run as root, use shared memory only and bind nothing (a
# container, where the topology may be unknown).
set -u
MPI=$1 CLI=$2 GEN=$3 ROWS=$4 DIR=$5
MPIRUN=${MPIRUN:-mpirun}
fail=0 n=0
rm -rf "$DIR" && mkdir -p "$DIR" || exit 1

ok()  { n=$((n + 1)); }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL: $*"; }

QUIET=""
if $MPIRUN --version 2>/dev/null | grep -q "Open MPI"; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_rmaps_base_oversubscribe=1
    export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
    export OMPI_MCA_hwloc_base_binding_policy=none
    QUIET=-q   # mpirun's own report of a non-zero exit: the tool's line is the one
fi
export OMP_NUM_THREADS=1
TIMEOUT=""
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 120"
run() { np=$1; shift; $TIMEOUT $MPIRUN $QUIET -np "$np" "$MPI" "$@"; }
# the tool's own lines on stderr (file $1): its messages start with its name
tool_lines() { grep -c '^hardreid-mpi:' "$1"; }

# 1. slices of every layout ----------------------------------------------------
k=0
for v in "" "--f8" "--fortran" "--big-endian --f8 --fortran" "--version 3"; do
    k=$((k + 1))
    "$GEN" --seed 5 $v 53 6 "$DIR/layout$k.npy" || exit 1
done
"$GEN" --seed 5 1 3 "$DIR/layout_one.npy"
if "$ROWS" "$DIR"/layout*.npy >"$DIR/rows.log" 2>&1; then ok; else bad "npy_read_rows_file"; cat "$DIR/rows.log"; fi

# 2. the same bytes as the single-process CLI ------------------------------------
# same NAME "RANKS" [tool options]: DIR/NAME.npy through both
same() {
    name=$1 nps=$2
    shift 2
    "$CLI" -q "$@" --prefix "$DIR/$name.ref" "$DIR/$name.npy" || { bad "$name: hardreid-difficulty failed"; return; }
    for np in $nps; do
        if run "$np" --hardest 0 "$@" --prefix "$DIR/$name.p$np" "$DIR/$name.npy" 2>"$DIR/$name.err" &&
           cmp -s "$DIR/$name.ref.difficulty.npy" "$DIR/$name.p$np.difficulty.npy" &&
           cmp -s "$DIR/$name.ref.nearest.npy" "$DIR/$name.p$np.nearest.npy"; then ok
        else
            bad "$name${*:+ ($*)}: $np ranks differ from hardreid-difficulty"
            cat "$DIR/$name.err"
            cmp "$DIR/$name.ref.difficulty.npy" "$DIR/$name.p$np.difficulty.npy"
            cmp "$DIR/$name.ref.nearest.npy" "$DIR/$name.p$np.nearest.npy"
        fi
        # the schedule computes every pair once (a pair twice would not
        # change a maximum, so only the count can tell)
        if grep -q '^pairs: \([0-9]*\) computed, N(N-1)/2 = \1;' "$DIR/$name.err"; then ok
        else bad "$name: $np ranks: $(grep '^pairs' "$DIR/$name.err")"; fi
    done
}
# awk's rows on stdin -> npy_gen --text
text() { "$GEN" --text "$1" "$2" "$3"; }
# unit rows (normalized in double, printed to float precision)
unit_rows() {
    awk -v n="$1" -v d="$2" -v s="$3" 'BEGIN { srand(s); for (i = 0; i < n; i++) {
        t = 0; for (j = 0; j < d; j++) { v[j] = rand() - 0.5; t += v[j] * v[j] }
        t = sqrt(t); for (j = 0; j < d; j++) printf "%.9g ", v[j] / t; printf "\n" } }'
}
# entries in {-1, 0, 1}: exact duplicates, exact ties across blocks,
# orthogonal pairs (a cosine of +-0) and zero rows
ternary() {
    awk -v n="$1" -v d="$2" -v s="$3" 'BEGIN { srand(s); for (i = 0; i < n; i++) {
        for (j = 0; j < d; j++) printf "%d ", int(rand() * 3) - 1; printf "\n" } }'
}

"$GEN" --seed 11 1 7 "$DIR/one.npy";                       same one "1 2 3 4"
"$GEN" --seed 12 3 7 "$DIR/three.npy";                     same three "1 2 3 4"
"$GEN" --seed 13 2 300 "$DIR/two.npy";                     same two "3"
"$GEN" --seed 14 --twins 8 257 129 "$DIR/n257.npy";        same n257 "1 2 3 4 5 6"
"$GEN" --seed 15 --f8 1000 300 "$DIR/f8.npy";              same f8 "1 2 3 4"
"$GEN" --seed 16 --fortran --big-endian 301 33 "$DIR/fortran.npy"; same fortran "2 3"
"$GEN" --seed 17 --twins 50 3001 129 "$DIR/n3001.npy";     same n3001 "1 2 3 4"
"$GEN" --seed 18 500 1 "$DIR/d1.npy";                      same d1 "1 2 3 4"
ternary 700 4 19 | text 700 4 "$DIR/ties.npy";             same ties "1 2 3 4"
ternary 90 2 20 | text 90 2 "$DIR/ties2.npy";              same ties2 "2 3 4"
unit_rows 600 64 21 | text 600 64 "$DIR/unit.npy";         same unit "1 2 3 4" --unit-rows
"$GEN" --seed 22 --twins 20 800 40 "$DIR/thr.npy";         same thr "2 3" --threads 2
"$GEN" --seed 23 200 19 "$DIR/scalar.npy";                 same scalar "3 4" --isa scalar

# -o / --nearest as in the CLI; the summary on stderr, nothing on stdout
run 3 -o "$DIR/c.npy" --nearest "$DIR/nn.npy" --hardest 3 "$DIR/n257.npy" >"$DIR/stdout" 2>"$DIR/stderr"
if cmp -s "$DIR/c.npy" "$DIR/n257.ref.difficulty.npy" && cmp -s "$DIR/nn.npy" "$DIR/n257.ref.nearest.npy" &&
   [ ! -s "$DIR/stdout" ] && grep -q 'N = 257 identities, d = 129' "$DIR/stderr" &&
   grep -q '3 ranks x 1 thread' "$DIR/stderr" && grep -q 'GFLOP/s' "$DIR/stderr" &&
   grep -q '^ring: 1 step (1 full, 0 half)' "$DIR/stderr" && grep -q 'hardest identities' "$DIR/stderr"
then ok; else bad "-o / --nearest / summary"; cat "$DIR/stderr"; fi

# 3. bad input ---------------------------------------------------------------------
B=$DIR/bad
mkdir -p "$B"
# expect NAME NP WANT [options] FILE: exit 1, one line naming FILE and WANT,
# nothing written next to $B/NAME.*, the older $B/NAME.difficulty.npy kept
expect() {
    name=$1 np=$2 want=$3
    shift 3
    printf 'old' >"$B/$name.difficulty.npy"
    run "$np" --prefix "$B/$name" "$@" >"$B/$name.out" 2>"$B/$name.err"; rc=$?
    lines=$(tool_lines "$B/$name.err")
    left=$(ls "$B" | grep -e "^$name\.nearest" -e "^$name\..*tmp" | tr '\n' ' ')
    eval "file=\${$#}"
    if [ $rc != 1 ]; then bad "$name: exit status $rc (want 1)"; cat "$B/$name.err"
    elif [ "$lines" != 1 ]; then bad "$name: $lines lines of hardreid-mpi on stderr (want 1):"; cat "$B/$name.err"
    elif ! grep '^hardreid-mpi:' "$B/$name.err" | grep -q -e "$file"; then bad "$name: message does not name $file: $(cat "$B/$name.err")"
    elif ! grep '^hardreid-mpi:' "$B/$name.err" | grep -qi -e "$want"; then bad "$name: message lacks '$want': $(cat "$B/$name.err")"
    elif [ -n "$left" ]; then bad "$name: left output behind: $left"
    elif [ "$(cat "$B/$name.difficulty.npy")" != old ]; then bad "$name: clobbered an older output"
    else ok; [ -n "${VERBOSE:-}" ] && echo "  $name -> $(cat "$B/$name.err")"; fi
}
# rank 2 of 4 owns rows 500..749 of 1000
"$GEN" --seed 30 --nan 600 5 1000 16 "$B/nan.npy"
expect nan 4 "non-finite value nan at row 600, column 5" "$B/nan.npy"
"$GEN" --seed 31 --nan 999 0 --f8 1000 16 "$B/nan_last.npy"
expect nan_last 3 "row 999, column 0" "$B/nan_last.npy"
expect nosuch 4 "No such file" "$B/nosuch.npy"
"$GEN" --seed 32 1000 16 "$B/good.npy"
size=$(wc -c <"$B/good.npy")
head -c $((size - 100)) "$B/good.npy" >"$B/cut.npy"
expect cut 4 "truncated" "$B/cut.npy"
head -c 40 "$B/good.npy" >"$B/cut_header.npy"
expect cut_header 2 "truncated" "$B/cut_header.npy"
cp "$B/good.npy" "$B/extra.npy"; printf 'xyz' >>"$B/extra.npy"
expect extra 3 "longer than its header" "$B/extra.npy"
"$GEN" --descr '<i4' 30 8 "$B/int32.npy"
expect int32 2 "dtype '<i4'" "$B/int32.npy"
"$GEN" 0 8 "$B/empty.npy"
expect empty 2 "empty matrix" "$B/empty.npy"
# rows that are not unit length under --unit-rows: found by the ranks' own
# blocks, before the ring
expect notunit 4 "unit length" --unit-rows "$B/good.npy"
# an output directory that does not exist: refused before anything is read
run 2 -q --prefix "$DIR/no/such/dir/out" "$B/good.npy" 2>"$B/err"; rc=$?
if [ $rc = 1 ] && [ "$(tool_lines "$B/err")" = 1 ] && grep -q "^hardreid-mpi: .*cannot create output" "$B/err"; then ok
else bad "missing output dir: rc $rc: $(cat "$B/err")"; fi
# the second output failing leaves no first one behind
run 2 -q -o "$B/first.npy" --nearest "$DIR/no/such/dir/n.npy" "$B/good.npy" 2>/dev/null
if [ $? = 1 ] && [ ! -e "$B/first.npy" ] && ! ls "$B" | grep -q tmp; then ok; else bad "first output left behind"; fi
run 2 --threads 0 "$B/good.npy" 2>"$B/err"; rc=$?
if [ $rc = 2 ] && [ "$(grep -c '^hardreid-mpi: .*threads' "$B/err")" = 1 ]; then ok; else bad "--threads 0: rc $rc, want 2 and one message"; fi

# 4. options and outputs ------------------------------------------------------
O=$(cd "$DIR" && pwd)/out
mkdir -p "$O/real"
run 2 -q --threads=1 --prefix="$O/eq" "$DIR/n257.npy" &&
  cmp -s "$O/eq.difficulty.npy" "$DIR/n257.ref.difficulty.npy" && ok || bad "--threads=1 --prefix=P"
want="hardreid-mpi (hardreid) $(sed -n 's/^#define HARDREID_VERSION_STRING "\(.*\)"/\1/p' "$(dirname "$0")/../../hardreid.h")"
# the tool's own lines only (the MPI runtime may add its notes, e.g. hwloc without /sys)
got=$(run 2 --version 2>/dev/null); rc=$?
got=$(printf '%s\n' "$got" | grep '^hardreid-mpi ')
[ $rc = 0 ] && [ "$got" = "$want" ] && ok || bad "--version: rc $rc, '$got' (want '$want', once)"
# -o -: the .npy on stdout (rank 0's, forwarded by mpirun); a link written through
ln -s real/n.npy "$O/nlink.npy"
run 3 -q -o - --nearest "$O/nlink.npy" "$DIR/n257.npy" >"$O/c.out" &&
  cmp -s "$O/c.out" "$DIR/n257.ref.difficulty.npy" && [ -L "$O/nlink.npy" ] &&
  cmp -s "$O/real/n.npy" "$DIR/n257.ref.nearest.npy" && [ -z "$(find "$O" -name "*.tmp.*")" ] && ok ||
  bad "-o - and a symlinked --nearest: $(ls -l "$O/nlink.npy" "$O/real" | tr '\n' ' ')"
opts_of() { grep -o -e '--[a-z][a-z-]*' | sort -u; }
MAN=$(dirname "$0")/../../docs/man/hardreid-mpi.1
if [ -r "$MAN" ]; then
    "$MPI" --help | opts_of >"$O/help.opts"   # singleton MPI: no mpirun needed
    sed 's/\\-/-/g' "$MAN" | opts_of >"$O/man.opts"
    if cmp -s "$O/help.opts" "$O/man.opts"; then ok
    else bad "--help and $MAN differ in options (< help, > man):"; diff "$O/help.opts" "$O/man.opts"; fi
else bad "no man page $MAN"; fi

if [ $fail = 0 ]; then echo "MPI tests: $n passed"; exit 0; fi
echo "MPI tests: $fail of $n FAILED"; exit 1
