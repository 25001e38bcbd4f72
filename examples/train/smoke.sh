#!/bin/sh
# examples/train/smoke.sh - seconds-long checks of the trainer (make train-smoke):
# every sampler, net and head runs; a run is bitwise reproducible for any thread count and
# when split by --stop-at/--save/--resume; a corrupt or mismatched checkpoint is
# refused with its name; the Market-1501 reader takes an exported data set and
# names a bad file.
#   sh examples/train/smoke.sh build/train
set -eu
bin=${1:-build/train}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tiny="--ids-train 24 --ids-test 12 --imgs 8 --distractors 10 --P 6 --K 4 --quiet"
fail() { echo "train-smoke: FAIL: $*" >&2; exit 1; }

# 1. every sampler, a few steps each
$bin $tiny --steps 8 --compare shuffle,pk,hard,prop,hardpk,uniform-prop > "$tmp/cmp.txt" 2>&1 ||
    { cat "$tmp/cmp.txt"; fail "--compare"; }
grep -q '^| uniform-prop ' "$tmp/cmp.txt" || fail "comparison table"
tail -9 "$tmp/cmp.txt"
for n in mobile shuffle; do
    $bin $tiny --steps 4 --net $n --head arc --opt adam > "$tmp/net.txt" 2>&1 || { cat "$tmp/net.txt"; fail "--net $n"; }
done
$bin $tiny --steps 4 --head sphere > /dev/null 2>&1 || fail "--head sphere"
$bin $tiny --steps 4 --head softmax > /dev/null 2>&1 || fail "--head softmax"

# 2. reproducible: 1 vs 2 threads; straight vs split and resumed
$bin $tiny --steps 12 --sampler hardpk --refresh 5 --threads 1 --csv "$tmp/a.csv" --save "$tmp/a.ckpt" > "$tmp/a.txt"
$bin $tiny --steps 12 --sampler hardpk --refresh 5 --threads 2 --csv "$tmp/b.csv" > "$tmp/b.txt"
cut -d, -f1-6 "$tmp/a.csv" > "$tmp/a.cut"; cut -d, -f1-6 "$tmp/b.csv" > "$tmp/b.cut"
cmp -s "$tmp/a.cut" "$tmp/b.cut" || fail "1 and 2 threads differ"
head -2 "$tmp/a.txt" > "$tmp/a.m"; head -2 "$tmp/b.txt" > "$tmp/b.m"
cmp -s "$tmp/a.m" "$tmp/b.m" || fail "1 and 2 threads: different results"
$bin $tiny --steps 12 --sampler hardpk --refresh 5 --stop-at 7 --csv "$tmp/c.csv" --save "$tmp/half.ckpt" > /dev/null
$bin $tiny --steps 12 --sampler hardpk --refresh 5 --resume "$tmp/half.ckpt" --csv "$tmp/c.csv" --save "$tmp/c.ckpt" > "$tmp/c.txt"
cmp -s "$tmp/a.ckpt" "$tmp/c.ckpt" || fail "resumed run ends in a different checkpoint"
head -2 "$tmp/c.txt" > "$tmp/c.m"
cmp -s "$tmp/a.m" "$tmp/c.m" || fail "resumed run: different results"
echo "train-smoke: bitwise equal: 1 vs 2 threads, straight vs --stop-at 7 + --resume"

# 3. checkpoints that must be refused, by name
cp "$tmp/half.ckpt" "$tmp/bad.ckpt"
printf 'X' | dd of="$tmp/bad.ckpt" bs=1 seek=300 conv=notrunc 2>/dev/null
if $bin $tiny --steps 12 --sampler hardpk --resume "$tmp/bad.ckpt" > "$tmp/r.txt" 2>&1; then fail "corrupt checkpoint accepted"; fi
grep -q "bad.ckpt.*checksum" "$tmp/r.txt" || { cat "$tmp/r.txt"; fail "corrupt checkpoint: message"; }
if $bin $tiny --steps 12 --sampler hardpk --emb 32 --resume "$tmp/half.ckpt" > "$tmp/r.txt" 2>&1; then fail "mismatched checkpoint accepted"; fi
grep -q "half.ckpt.*embedding size" "$tmp/r.txt" || { cat "$tmp/r.txt"; fail "mismatch: message"; }
head -c 100 "$tmp/half.ckpt" > "$tmp/short.ckpt"
if $bin $tiny --steps 12 --sampler hardpk --resume "$tmp/short.ckpt" > "$tmp/r.txt" 2>&1; then fail "truncated checkpoint accepted"; fi
grep -q "short.ckpt" "$tmp/r.txt" || fail "truncated: message"
echo "train-smoke: corrupt, mismatched and truncated checkpoints refused"

# 4. Market-1501 layout: export (JPEG), train on it; a bad file is named, or skipped
$bin $tiny --export-jpg "$tmp/market" > /dev/null
$bin $tiny --data "$tmp/market" --steps 4 > /dev/null 2>&1 || fail "--data on an exported set"
echo 'not a jpeg' > "$tmp/market/query/0030_c2s1_000999_00.jpg"
if $bin $tiny --data "$tmp/market" --steps 4 > "$tmp/r.txt" 2>&1; then fail "undecodable image accepted"; fi
grep -q "0030_c2s1_000999_00.jpg" "$tmp/r.txt" || { cat "$tmp/r.txt"; fail "bad image: message"; }
$bin $tiny --data "$tmp/market" --steps 4 --skip-bad > "$tmp/r.txt" 2>&1 || fail "--skip-bad"
grep -q "skipped 1 bad" "$tmp/r.txt" || { cat "$tmp/r.txt"; fail "--skip-bad count"; }
if $bin $tiny --data "$tmp/nowhere" --steps 4 > "$tmp/r.txt" 2>&1; then fail "missing directory accepted"; fi
grep -q "nowhere/bounding_box_train" "$tmp/r.txt" || fail "missing directory: message"
echo "train-smoke: Market-1501 layout read; bad file and missing directory named"
echo "train-smoke: ok"
