#!/bin/sh
# tests/tools_test.sh CLI NPY_GEN WORKDIR - the difficulty CLI from the outside:
#   1. every input layout the reader accepts (float32/float64, C/Fortran order,
#      little/big endian, format versions 1-3) gives bitwise the same output;
#   2. the worked example of docs/DESIGN.md gives its difficulties and neighbours;
#   3. thread count, top-k's first column, --isa behave as documented;
#   4. a catalogue of bad files: each fails with exit status 1, a message
#      naming the file and the problem, and leaves no output (not even a temp
#      file) behind, and an older output of the same name untouched;
#   5. the other refusals of README's "Bad input": usage errors (exit 2),
#      output = input, a directory, --unit-rows on raw rows, a failed
#      write, HR_ISA naming a path the CPU lacks;
#   6. options and outputs: --opt=V, --version, - for standard output, a
#      symlinked output written through (the link stays a link), a link to
#      /dev/stdout or to a FIFO written directly (not replaced), the hint
#      for a .pth / .pt / .npz input, --help against the man page.
set -u
CLI=$1 GEN=$2 DIR=$3
MAN=$(dirname "$0")/../docs/man/hardreid-difficulty.1
fail=0 n=0
rm -rf "$DIR" && mkdir -p "$DIR" || exit 1

ok()  { n=$((n + 1)); }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL: $*"; }

# 1. layouts -----------------------------------------------------------------
"$GEN" --twins 4 --seed 7 300 40 "$DIR/ref.npy" || exit 1
"$CLI" -q --topk 3 --csv "$DIR/ref.csv" "$DIR/ref.npy" || { bad "reference run"; }
for v in "--f8" "--fortran" "--big-endian" "--f8 --fortran --big-endian" \
         "--version 2" "--version 3 --f8"; do
    "$GEN" --twins 4 --seed 7 $v 300 40 "$DIR/lay.npy"
    if "$CLI" -q --topk 3 --csv "$DIR/lay.csv" "$DIR/lay.npy" &&
       cmp -s "$DIR/ref.difficulty.npy" "$DIR/lay.difficulty.npy" &&
       cmp -s "$DIR/ref.nearest.npy" "$DIR/lay.nearest.npy" &&
       cmp -s "$DIR/ref.topk_idx.npy" "$DIR/lay.topk_idx.npy" &&
       cmp -s "$DIR/ref.csv" "$DIR/lay.csv"; then ok; else bad "layout $v differs from float32 C order"; fi
done
# the planted twins (rows 2p, 2p+1) are each other's nearest
if awk -F, 'NR > 1 && NR <= 9 { i = $1; want = (i % 2) ? i - 1 : i + 1; if ($3 != want) e = 1 }
            END { exit e }' "$DIR/ref.csv"; then ok; else bad "planted twins not found"; fi

# 2. docs/DESIGN.md's worked example: rows (2,0) (0,2) (0.4,1.96) -------------
printf '2 0\n0 2\n0.4 1.96\n' | "$GEN" --text 3 2 "$DIR/ex.npy"
if "$CLI" -q --csv "$DIR/ex.csv" --topk 2 "$DIR/ex.npy" &&
   awk -F, 'function near(a, b) { return (a - b < 1e-5 && b - a < 1e-5) }
     NR == 2 { e += !($3 == 2 && near($2, 0.19996) && $4 == 2 && $6 == 1 && near($7, 0)) }
     NR == 3 { e += !($3 == 2 && near($2, 0.97980) && $4 == 2 && $6 == 0 && near($7, 0)) }
     NR == 4 { e += !($3 == 1 && near($2, 0.97980) && $4 == 1 && $6 == 0 && near($7, 0.19996)) }
     END { exit e || NR != 4 }' "$DIR/ex.csv"; then ok
else bad "worked example: got"; cat "$DIR/ex.csv"; fi

# 3. options -----------------------------------------------------------------
"$GEN" --seed 3 700 33 "$DIR/t.npy"
"$CLI" -q --threads 1 --prefix "$DIR/t1" "$DIR/t.npy" &&
"$CLI" -q --threads 2 --prefix "$DIR/t2" "$DIR/t.npy" &&
cmp -s "$DIR/t1.difficulty.npy" "$DIR/t2.difficulty.npy" &&
cmp -s "$DIR/t1.nearest.npy" "$DIR/t2.nearest.npy" && ok || bad "--threads 1 and 2 differ"
# top-k's first column equals hr_difficulty bitwise (the CLI relies on it)
"$CLI" -q --topk 4 --prefix "$DIR/tk" "$DIR/t.npy" &&
cmp -s "$DIR/t1.difficulty.npy" "$DIR/tk.difficulty.npy" &&
cmp -s "$DIR/t1.nearest.npy" "$DIR/tk.nearest.npy" && ok || bad "--topk column 0 != difficulty"
"$CLI" -q --isa scalar -o "$DIR/s.npy" --nearest "$DIR/sn.npy" "$DIR/t.npy" &&
  [ -s "$DIR/s.npy" ] && [ -s "$DIR/sn.npy" ] && ok || bad "--isa scalar with explicit paths"
# summary on stderr, nothing on stdout
"$CLI" --hardest 3 --prefix "$DIR/sum" "$DIR/ref.npy" >"$DIR/stdout" 2>"$DIR/stderr"
if [ ! -s "$DIR/stdout" ] && grep -q 'N = 300 identities, d = 40' "$DIR/stderr" &&
   grep -q 'GFLOP/s' "$DIR/stderr" && grep -q 'hardest identities' "$DIR/stderr"; then ok
else bad "summary"; cat "$DIR/stderr"; fi
# the paths this CPU lacks (from /proc/cpuinfo, not from the tool)
cpu_has() { # isa
    case $1 in
    avx2) grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo ;;
    avx512) grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw avx512f /proc/cpuinfo ;;
    neon) [ "$(uname -m)" = aarch64 ] ;;
    *) return 1 ;;
    esac
}
for isa in neon avx2 avx512; do
    if cpu_has $isa; then continue; fi
    "$CLI" -q --isa $isa --prefix "$DIR/x" "$DIR/t.npy" 2>"$DIR/err"; rc=$?
    if [ $rc = 1 ] && grep -q "isa $isa" "$DIR/err" && [ ! -e "$DIR/x.difficulty.npy" ]; then ok
    else bad "--isa $isa on this CPU: rc $rc"; fi
done
"$CLI" --topk 0 "$DIR/t.npy" 2>/dev/null; [ $? = 2 ] && ok || bad "--topk 0 not a usage error"
"$CLI" 2>/dev/null; [ $? = 2 ] && ok || bad "no input not a usage error"

# 4. bad files ------------------------------------------------------------------
B=$DIR/bad
mkdir -p "$B"
"$GEN" 30 8 "$B/good.npy"
size=$(wc -c <"$B/good.npy")
echo "hello, world" >"$B/text.npy"
: >"$B/empty.npy"
head -c 7 "$B/good.npy" >"$B/magic_only.npy"
head -c 40 "$B/good.npy" >"$B/cut_header.npy"
head -c $((size - 5)) "$B/good.npy" >"$B/cut_data.npy"
cp "$B/good.npy" "$B/extra.npy"; printf 'xyz' >>"$B/extra.npy"
"$GEN" --descr '<i4' 30 8 "$B/int32.npy"
"$GEN" --descr '<f2' 30 8 "$B/float16.npy"
"$GEN" --descr '<c8' 30 8 "$B/complex.npy"
"$GEN" --shape '(240,)' 30 8 "$B/dim1.npy"
"$GEN" --shape '(2, 15, 8)' 30 8 "$B/dim3.npy"
"$GEN" --shape '()' 30 8 "$B/dim0.npy"
"$GEN" --shape '(60, 8)' 30 8 "$B/lie_long.npy"
"$GEN" --shape '(10, 8)' 30 8 "$B/lie_short.npy"
"$GEN" --shape '(4611686018427387904, 4611686018427387904)' 30 8 "$B/overflow.npy"
"$GEN" --shape '(99999999999999999999999, 8)' 30 8 "$B/bigint.npy"
"$GEN" --shape '(30, 8' 30 8 "$B/syntax.npy"
"$GEN" --shape '(-30, 8)' 30 8 "$B/negative.npy"
"$GEN" 0 8 "$B/zero_rows.npy"
"$GEN" --version 4 30 8 "$B/version4.npy"
"$GEN" --nan 17 3 30 8 "$B/nan.npy"
"$GEN" --nan 0 0 --f8 30 8 "$B/nan_f8.npy"
"$GEN" --descr "'<f4', 'extra': 1" 30 8 "$B/extra_key.npy"

# file : words the message must contain
while IFS=: read -r f want; do
    [ -n "$f" ] || continue
    printf 'old' >"$B/$f.difficulty.npy"
    "$CLI" -q --topk 2 --csv "$B/$f.csv" "$B/$f.npy" 2>"$B/err"; rc=$?
    msg=$(cat "$B/err")
    left=$(ls "$B" | grep -e "^$f\.\(nearest\|topk\|csv\)" -e "^$f\..*tmp" | tr '\n' ' ')
    if [ $rc != 1 ]; then bad "$f.npy: exit status $rc (want 1): $msg"
    elif ! printf '%s' "$msg" | grep -q "$B/$f.npy"; then bad "$f.npy: message does not name the file: $msg"
    elif ! printf '%s' "$msg" | grep -qi -e "$want"; then bad "$f.npy: message lacks '$want': $msg"
    elif [ -n "$left" ]; then bad "$f.npy: left output behind: $left"
    elif [ "$(cat "$B/$f.difficulty.npy")" != old ]; then bad "$f.npy: clobbered an older output"
    else ok; [ -n "${VERBOSE:-}" ] && echo "  $f.npy -> $msg"; fi
done <<'EOF'
text:not a .npy file
empty:not a .npy file
magic_only:truncated
cut_header:truncated
cut_data:truncated
extra:longer than its header
int32:dtype '<i4'
float16:dtype '<f2'
complex:dtype '<c8'
dim1:1-D
dim3:3-D
dim0:0-D
lie_long:truncated
lie_short:longer than its header
overflow:overflow
bigint:overflow
syntax:malformed .npy header
negative:malformed .npy header
zero_rows:empty matrix
version4:version
nan:row 17, column 3
nan_f8:row 0, column 0
extra_key:malformed .npy header
nosuch:No such file
EOF

# an output directory that does not exist: clear error, nothing written
"$CLI" -q --prefix "$DIR/no/such/dir/out" "$B/good.npy" 2>"$B/err"; rc=$?
if [ $rc = 1 ] && grep -q "cannot create output" "$B/err"; then ok; else bad "missing output dir: rc $rc: $(cat "$B/err")"; fi
# the second output failing must not leave the first one behind
"$CLI" -q -o "$B/first.npy" --nearest "$DIR/no/such/dir/n.npy" "$B/good.npy" 2>/dev/null
if [ $? = 1 ] && [ ! -e "$B/first.npy" ] && ! ls "$B" | grep -q tmp; then ok; else bad "first output left behind"; fi

# 5. more refusals (README "Bad input"): each its exit status and message
# usage errors: exit status 2, the problem named
while IFS='|' read -r args want; do
    [ -n "$args" ] || continue
    # shellcheck disable=SC2086
    "$CLI" $args 2>"$B/err" >/dev/null; rc=$?
    if [ $rc = 2 ] && grep -q -e "$want" "$B/err"; then ok
    else bad "usage '$args': rc $rc (want 2): $(cat "$B/err")"; fi
done <<EOF2
--bogus $B/good.npy|unknown option: --bogus
$B/good.npy $B/good.npy|more than one input file
--prefix|missing value after: --prefix
--topk 1025 $B/good.npy|--topk needs an integer 1..1024
--topk x $B/good.npy|--topk needs an integer 1..1024
--threads 0 $B/good.npy|--threads needs an integer 1..4096
--threads 4097 $B/good.npy|--threads needs an integer 1..4096
--hardest -1 $B/good.npy|--hardest needs an integer >= 0
--isa bogus $B/good.npy|--isa must be one of: auto, scalar, avx2, neon, avx512
EOF2
"$CLI" --help >"$B/out" 2>&1 && grep -q '^usage: hardreid-difficulty' "$B/out" && ok || bad "--help: not exit 0 with the usage"
# an output path that is the input: refused before anything is read or written
cp "$B/good.npy" "$B/same.npy"
"$CLI" -q -o "$B/same.npy" "$B/same.npy" 2>"$B/err"; rc=$?
if [ $rc = 1 ] && grep -q "an output path equals the input" "$B/err" && cmp -s "$B/good.npy" "$B/same.npy"; then ok
else bad "output = input: rc $rc: $(cat "$B/err")"; fi
# a directory as the input
"$CLI" -q --prefix "$B/dirin" "$B" 2>"$B/err"; rc=$?
if [ $rc = 1 ] && grep -q "$B: cannot read" "$B/err" && [ ! -e "$B/dirin.difficulty.npy" ]; then ok
else bad "directory as input: rc $rc: $(cat "$B/err")"; fi
# --unit-rows on rows that are not unit length: hr_difficulty's HR_EINVAL,
# said as what it means
"$CLI" -q --unit-rows --prefix "$B/unit" "$B/good.npy" 2>"$B/err"; rc=$?
if [ $rc = 1 ] && grep -q "good.npy: --unit-rows, but a row is not unit length" "$B/err" && [ ! -e "$B/unit.difficulty.npy" ]; then ok
else bad "--unit-rows on raw rows: rc $rc: $(cat "$B/err")"; fi
"$CLI" -q --unit-rows --topk 2 --prefix "$B/unit" "$B/good.npy" 2>"$B/err"; rc=$?
if [ $rc = 1 ] && grep -q "good.npy: --unit-rows, but a row is not unit length" "$B/err"; then ok
else bad "--unit-rows --topk on raw rows: rc $rc: $(cat "$B/err")"; fi
# a write that fails (the file size limit, SIGXFSZ ignored): exit 1, the
# file and errno named, no output or temp file left, an older output kept
printf 'old' >"$B/fsz.difficulty.npy"
(trap '' XFSZ; ulimit -f 1; "$CLI" -q --prefix "$B/fsz" "$DIR/t.npy") 2>"$B/err"; rc=$?
left=$(ls "$B" | grep -e '^fsz\.nearest' -e '^fsz\..*tmp' | tr '\n' ' ')
if [ $rc = 1 ] && grep -q "writing $B/fsz.difficulty.npy failed: File too large" "$B/err" &&
   [ -z "$left" ] && [ "$(cat "$B/fsz.difficulty.npy")" = old ]; then ok
else bad "failed write: rc $rc, left '$left': $(cat "$B/err")"; fi
# HR_ISA naming a path this CPU lacks, or nothing known: the best path runs
best=scalar
for v in avx2 neon avx512; do cpu_has $v && best=$v; done # the registry's order
for v in bogus neon avx2 avx512; do
    HR_ISA=$v "$CLI" --hardest 0 --prefix "$B/isa" "$B/good.npy" 2>"$B/err"; rc=$?
    want=$best; cpu_has $v && want=$v
    if [ $rc = 0 ] && grep -q "isa $want," "$B/err"; then ok
    else bad "HR_ISA=$v: rc $rc, want isa $want: $(head -1 "$B/err")"; fi
done

# 6. options and outputs ------------------------------------------------------
O=$(cd "$DIR" && pwd)/out  # absolute: symlink targets below are read from their link's directory
mkdir -p "$O"
# --opt=V is --opt V (getopt_long), for every option with a value
"$CLI" -q --threads=1 --topk=2 --prefix="$O/eq" --csv="$O/eq.csv" "$DIR/t.npy" &&
  cmp -s "$DIR/t1.difficulty.npy" "$O/eq.difficulty.npy" && [ -s "$O/eq.csv" ] && ok ||
  bad "--threads=1 --topk=2 --prefix=P --csv=P"
"$CLI" -q --threads=0 "$DIR/t.npy" 2>"$O/err"; rc=$?
[ $rc = 2 ] && grep -q -e '--threads needs an integer 1..4096: 0' "$O/err" && ok || bad "--threads=0: rc $rc: $(cat "$O/err")"
# options after the input, and -- before an input that starts with -
cp "$DIR/t.npy" "$O/-w.npy"
CLIA=$(cd "$(dirname "$CLI")" && pwd)/$(basename "$CLI")
(cd "$O" && "$CLIA" -q -- -w.npy --threads 1) 2>"$O/err"; rc=$?
[ $rc = 2 ] && grep -q 'more than one input file: --threads' "$O/err" && ok || bad "-- ends options: rc $rc: $(cat "$O/err")"
(cd "$O" && "$CLIA" -q --prefix dash -- -w.npy) && cmp -s "$DIR/t1.difficulty.npy" "$O/dash.difficulty.npy" &&
  ok || bad "an input after --"
"$CLI" -q "$DIR/t.npy" --threads 1 --prefix "$O/late" && [ -s "$O/late.difficulty.npy" ] && ok ||
  bad "options after the input"
"$CLI" --unit-rows=1 "$DIR/t.npy" 2>"$O/err"; rc=$?
[ $rc = 2 ] && grep -q 'option takes no value: --unit-rows=1' "$O/err" && ok || bad "--unit-rows=1: rc $rc: $(cat "$O/err")"
# --version: the version hardreid.h says, on stdout, exit 0
want="hardreid-difficulty (hardreid) $(sed -n 's/^#define HARDREID_VERSION_STRING "\(.*\)"/\1/p' "$(dirname "$0")/../hardreid.h")"
got=$("$CLI" --version 2>&1); rc=$?
[ $rc = 0 ] && [ "$got" = "$want" ] && ok || bad "--version: rc $rc, '$got' (want '$want')"
# - is standard output: the same bytes as a file, nothing else on stdout
"$CLI" -q --csv - --prefix "$O/std" "$DIR/ref.npy" >"$O/std.out" &&
  "$CLI" -q --csv "$O/std.csv" --prefix "$O/std" "$DIR/ref.npy" && cmp -s "$O/std.out" "$O/std.csv" &&
  [ ! -e ./- ] && [ ! -e "$O/-" ] && ok || bad "--csv - is not the CSV on stdout"
"$CLI" -q -o - --nearest "$O/n.npy" "$DIR/t.npy" >"$O/c.out" &&
  cmp -s "$O/c.out" "$DIR/t1.difficulty.npy" && ok || bad "-o - is not the .npy on stdout"
"$CLI" -q -o - --csv - "$DIR/t.npy" >"$O/c.out" 2>"$O/err"; rc=$?
[ $rc = 1 ] && grep -q 'more than one output is - (standard output)' "$O/err" && [ ! -s "$O/c.out" ] && ok ||
  bad "two outputs on stdout: rc $rc: $(cat "$O/err")"
# a failed run sends nothing to stdout either
"$CLI" -q --csv - "$B/nan.npy" >"$O/c.out" 2>/dev/null; rc=$?
[ $rc = 1 ] && [ ! -s "$O/c.out" ] && ok || bad "a failed run wrote to stdout: rc $rc"
# a symlink is written through: the link stays, its target gets the data
mkdir -p "$O/real"
printf 'old' >"$O/real/c.npy"
ln -s real/c.npy "$O/link.npy"           # relative, resolved from the link's directory
ln -s "$O/real/n.npy" "$O/nlink.npy"     # dangling: the target is created
"$CLI" -q -o "$O/link.npy" --nearest "$O/nlink.npy" "$DIR/t.npy" &&
  [ -L "$O/link.npy" ] && [ "$(readlink "$O/link.npy")" = real/c.npy ] && [ -L "$O/nlink.npy" ] &&
  cmp -s "$O/real/c.npy" "$DIR/t1.difficulty.npy" && cmp -s "$O/real/n.npy" "$DIR/t1.nearest.npy" &&
  [ -z "$(find "$O" -name "*.tmp.*")" ] && ok ||
  bad "symlinked outputs: $(ls -l "$O/link.npy" "$O/nlink.npy" "$O/real" 2>&1 | tr '\n' ' ')"
# ... and a failed run through a link leaves the target as it was
printf 'old' >"$O/real/c.npy"
"$CLI" -q -o "$O/link.npy" "$B/nan.npy" 2>/dev/null
[ -L "$O/link.npy" ] && [ "$(cat "$O/real/c.npy")" = old ] && ok || bad "failed run through a link"
# a link to the input is the input
ln -s "$(cd "$DIR" && pwd)/t.npy" "$O/tlink.npy"
"$CLI" -q -o "$O/tlink.npy" "$DIR/t.npy" 2>"$O/err"; rc=$?
[ $rc = 1 ] && grep -q 'an output path equals the input' "$O/err" && [ -L "$O/tlink.npy" ] &&
  cmp -s "$DIR/t.npy" "$O/-w.npy" && ok || bad "output = a link to the input: rc $rc: $(cat "$O/err")"
# a link to /dev/stdout: written to the descriptor, neither the link nor
# /dev/stdout replaced by a file (as root a rename would replace either);
# stdout a file, then a pipe (whose /proc/self/fd/1 names no file at all)
ln -s /dev/stdout "$O/so"
"$CLI" -q --csv "$O/so" --prefix "$O/so" "$DIR/ref.npy" >"$O/so.out" &&
  [ -L "$O/so" ] && [ "$(readlink "$O/so")" = /dev/stdout ] && [ -L /dev/stdout ] &&
  cmp -s "$O/so.out" "$O/std.csv" && ok || bad "--csv LINK-to-/dev/stdout: $(ls -l "$O/so" /dev/stdout | tr '\n' ' ')"
"$CLI" -q --csv "$O/so" --prefix "$O/so" "$DIR/ref.npy" | cat >"$O/so.pipe"
[ -L "$O/so" ] && [ -L /dev/stdout ] && cmp -s "$O/so.pipe" "$O/std.csv" && ok ||
  bad "--csv LINK-to-/dev/stdout into a pipe: $(ls -l "$O/so" /dev/stdout | tr '\n' ' ')"
# a link to a FIFO: the FIFO is written, not replaced by a regular file
if mkfifo "$O/fifo" 2>/dev/null; then
    ln -s fifo "$O/flink"
    # both sides bounded: a FIFO replaced by a file never gets its writer,
    # and a writer without a reader would block in open
    T=""; command -v timeout >/dev/null 2>&1 && T="timeout 20"
    $T cat "$O/fifo" >"$O/fifo.out" & reader=$!
    $T "$CLI" -q --csv "$O/flink" --prefix "$O/fifo" "$DIR/ref.npy"; rc=$?
    [ -p "$O/flink" ] || kill $reader 2>/dev/null
    wait $reader
    [ $rc = 0 ] && [ -p "$O/fifo" ] && [ -L "$O/flink" ] && cmp -s "$O/fifo.out" "$O/std.csv" && ok ||
      bad "--csv LINK-to-FIFO: rc $rc, $(ls -l "$O/fifo" | tr '\n' ' ')"
    # standard output a pipe whose reader is gone (`| head` that quit): the
    # write dies of SIGPIPE, and the other outputs' temp files go with it
    mkfifo "$O/gone"
    (exec 3<"$O/gone") &                  # a reader that opens and leaves
    $T "$CLI" -q --csv - --prefix "$O/gone" "$DIR/t.npy" >"$O/gone"; rc=$?
    wait
    [ $rc = 141 ] && [ ! -e "$O/gone.difficulty.npy" ] && [ -z "$(find "$O" -name "*.tmp.*")" ] && ok ||
      bad "SIGPIPE on stdout: rc $rc (want 141), left: $(ls "$O" | grep gone | tr '\n' ' ')"
else bad "mkfifo failed"; fi
# a PyTorch checkpoint or an .npz: how to make the .npy instead
printf 'PK\003\004 a zip, as torch.save writes' >"$O/model.pth"
cp "$O/model.pth" "$O/weights.npz"
printf '\200\002 a pickle' >"$O/old.bin"
for f in model.pth weights.npz old.bin; do
    "$CLI" -q "$O/$f" 2>"$O/err"; rc=$?
    if [ $rc = 1 ] && grep -q "$O/$f: not a .npy file" "$O/err" &&
       grep -qF 'np.save("fc.npy", model.fc.weight.detach().cpu().numpy())' "$O/err"; then ok
    else bad "$f: no np.save hint: rc $rc: $(cat "$O/err")"; fi
done
"$CLI" -q "$B/text.npy" 2>"$O/err"; ! grep -q 'np.save' "$O/err" && ok || bad "a hint for a text file"
# --help and the man page name the same long options
opts_of() { grep -o -e '--[a-z][a-z-]*' | sort -u; }
if [ -r "$MAN" ]; then
    "$CLI" --help | opts_of >"$O/help.opts"
    sed 's/\\-/-/g' "$MAN" | opts_of >"$O/man.opts"
    if cmp -s "$O/help.opts" "$O/man.opts"; then ok
    else bad "--help and $MAN differ in options (< help, > man):"; diff "$O/help.opts" "$O/man.opts"; fi
else bad "no man page $MAN"; fi

if [ $fail = 0 ]; then echo "CLI tests: $n passed"; exit 0; fi
echo "CLI tests: $fail of $n FAILED"; exit 1
