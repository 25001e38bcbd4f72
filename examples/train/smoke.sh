#!/bin/sh
# examples/train/smoke.sh - seconds-long checks of the trainer (make train-smoke):
# every sampler, net and head runs; a run is bitwise reproducible for any thread count and
# when split by --stop-at/--save/--resume; a corrupt or mismatched checkpoint is
# refused with its name; the Market-1501 reader takes an exported data set and
# names a bad file; every other refusal of README's "Bad input" for the trainer
# gives its exit status and message.
#   sh examples/train/smoke.sh build/train
set -eu
bin=${1:-build/train}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tiny="--ids-train 24 --ids-test 12 --imgs 8 --distractors 10 --P 6 --K 4 --quiet"
fail() { echo "train-smoke: FAIL: $*" >&2; exit 1; }

# 1. every sampler, a few steps each
$bin $tiny --steps 8 --compare shuffle,pk,hard,prop,hardpk,uniform-prop,hardepoch > "$tmp/cmp.txt" 2>&1 ||
    { cat "$tmp/cmp.txt"; fail "--compare"; }
grep -q '^| uniform-prop ' "$tmp/cmp.txt" || fail "comparison table"
tail -9 "$tmp/cmp.txt"
for n in mobile shuffle res18; do
    $bin $tiny --steps 4 --net $n --width 0.5 --depth 2 --stem-stride 2 --head arc --opt adam > "$tmp/net.txt" 2>&1 || { cat "$tmp/net.txt"; fail "--net $n"; }
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
# hardepoch keeps its epoch's keys in the checkpoint
he="$tiny --steps 12 --sampler hardepoch --refresh 3 --P 3"
$bin $he --csv "$tmp/e1.csv" > "$tmp/e1.txt"
$bin $he --stop-at 5 --save "$tmp/e.ckpt" --csv "$tmp/e2.csv" > /dev/null
$bin $he --resume "$tmp/e.ckpt" --csv "$tmp/e2.csv" > "$tmp/e2.txt"
cut -d, -f1-6 "$tmp/e1.csv" > "$tmp/e1.cut"; cut -d, -f1-6 "$tmp/e2.csv" > "$tmp/e2.cut"
cmp -s "$tmp/e1.cut" "$tmp/e2.cut" && [ "$(head -2 "$tmp/e1.txt")" = "$(head -2 "$tmp/e2.txt")" ] ||
    fail "hardepoch: straight and resumed runs differ"
echo "train-smoke: bitwise equal: 1 vs 2 threads, straight vs --stop-at 7 + --resume (hardpk, hardepoch)"

# 2b. weights files: what --save-weights wrote, --init --steps 0 evaluates
# to the same figures; a file of another net or a damaged one is refused
$bin $tiny --steps 6 --net res18 --save-weights "$tmp/w.hrw" > "$tmp/w1.txt"
$bin $tiny --steps 0 --net res18 --init "$tmp/w.hrw" > "$tmp/w2.txt"
[ "$(head -2 "$tmp/w1.txt")" = "$(head -2 "$tmp/w2.txt")" ] || fail "--init of --save-weights: other figures"
# refuse STATUS MESSAGE ARGS...: the exit status and a line of the output
refuse() {
    want=$1 msg=$2; shift 2
    rc=0; $bin "$@" > "$tmp/r.txt" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || { cat "$tmp/r.txt"; fail "$*: exit status $rc, want $want"; }
    grep -q -e "$msg" "$tmp/r.txt" || { cat "$tmp/r.txt"; fail "$*: no '$msg' in the output"; }
}
refuse 1 "w.hrw: 103 tensors, this network has 48" $tiny --steps 0 --net res --init "$tmp/w.hrw"
head -c 3000 "$tmp/w.hrw" > "$tmp/wcut.hrw"
refuse 1 "wcut.hrw: checksum mismatch" $tiny --steps 0 --net res18 --init "$tmp/wcut.hrw"
printf 'HRWEIGHX' > "$tmp/wmagic.hrw"; tail -c +9 "$tmp/w.hrw" >> "$tmp/wmagic.hrw"
refuse 1 "wmagic.hrw: not a weights file (bad magic)" $tiny --steps 0 --net res18 --init "$tmp/wmagic.hrw"
refuse 1 "nosuch.hrw: No such file or directory" $tiny --steps 0 --init "$tmp/nosuch.hrw"
$bin $tiny --steps 2 --net res18 --dump-step "$tmp/d.hrw" > /dev/null || fail "--dump-step"
echo "train-smoke: weights files: --save-weights then --init evaluates the same; bad files refused"

# 3. checkpoints that must be refused, by name
cp "$tmp/half.ckpt" "$tmp/bad.ckpt"
printf 'X' | dd of="$tmp/bad.ckpt" bs=1 seek=300 conv=notrunc 2>/dev/null
if $bin $tiny --steps 12 --sampler hardpk --resume "$tmp/bad.ckpt" > "$tmp/r.txt" 2>&1; then fail "corrupt checkpoint accepted"; fi
grep -q "bad.ckpt.*checksum" "$tmp/r.txt" || { cat "$tmp/r.txt"; fail "corrupt checkpoint: message"; }
if $bin $tiny --steps 12 --sampler hardpk --emb 32 --resume "$tmp/half.ckpt" > "$tmp/r.txt" 2>&1; then fail "mismatched checkpoint accepted"; fi
grep -q "half.ckpt.*embedding size" "$tmp/r.txt" || { cat "$tmp/r.txt"; fail "mismatch: message"; }
head -c 100 "$tmp/half.ckpt" > "$tmp/short.ckpt"
if $bin $tiny --steps 12 --sampler hardpk --resume "$tmp/short.ckpt" > "$tmp/r.txt" 2>&1; then fail "truncated checkpoint accepted"; fi
grep -q "short.ckpt: shorter than a header" "$tmp/r.txt" || fail "truncated: message"
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

# 4b. the real-image set (scripts/make_glyphset.py), where its fonts are
# installed (make glyphset installs them): the same seed makes the same
# files, and the trainer's --data defaults train on it
if /usr/bin/python3 scripts/make_glyphset.py --out "$tmp/g1" --quick > "$tmp/g.txt" 2>&1; then
    /usr/bin/python3 scripts/make_glyphset.py --out "$tmp/g2" --quick > /dev/null 2>&1
    (cd "$tmp/g1" && find . -type f | sort | xargs md5sum) > "$tmp/g1.sum"
    (cd "$tmp/g2" && find . -type f | sort | xargs md5sum) > "$tmp/g2.sum"
    cmp -s "$tmp/g1.sum" "$tmp/g2.sum" || fail "make_glyphset.py: same seed, other files"
    $bin --data "$tmp/g1" --steps 3 --P 4 --K 4 --quiet > "$tmp/r.txt" 2>&1 || { cat "$tmp/r.txt"; fail "--data on the glyph set"; }
    echo "train-smoke: glyph set: reproducible, and trained on"
else
    echo "train-smoke: glyph set not tried: $(tail -1 "$tmp/g.txt")"
fi

# 5. the rest of README's "Bad input" for the trainer: each refusal's exit
# status and message
# usage: exit status 2
refuse 2 "unknown option '--bogus'" --bogus
refuse 2 "bad value '0' for --steps" $tiny --steps 0
refuse 2 "bad value '(missing)' for --net" $tiny --net
refuse 2 "bad value '4x4' for --size" $tiny --size 4x4
refuse 2 "mode A (--sampler hard) needs --P >= 2" $tiny --sampler hard --P 1
refuse 2 "bad value 'pk,bogus' for --compare" $tiny --compare pk,bogus
refuse 2 "--compare takes no --save/--resume" $tiny --compare pk --save "$tmp/x.ckpt"
# the data do not fit the batch; outputs that cannot be written
refuse 1 "4 training identities, need at least max(2, P = 5)" --ids-train 4 --ids-test 4 --P 5 --quiet
refuse 1 "batch of 8 images, the training set has 4" --ids-train 2 --ids-test 2 --imgs 2 --P 2 --K 4 --sampler shuffle --quiet
refuse 1 "no/x.csv: No such file or directory" $tiny --steps 2 --csv "$tmp/no/x.csv"
refuse 1 "no/x.ckpt.tmp: No such file or directory" $tiny --steps 2 --save "$tmp/no/x.ckpt"
refuse 1 "cannot create $tmp/no/dir" $tiny --export "$tmp/no/dir"
# checkpoints: each check of load_ckpt, by its message
ck="$tiny --steps 12 --sampler hardpk --refresh 5"
refuse 1 "nosuch.ckpt: No such file or directory" $ck --resume "$tmp/nosuch.ckpt"
patch() { # patch FILE OFFSET OCTAL-BYTES: a copy with bytes replaced
    cp "$tmp/half.ckpt" "$tmp/$1"; printf "$3" | dd of="$tmp/$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
patch magic.ckpt 0 'X'
refuse 1 "magic.ckpt: not a trainer checkpoint (bad magic)" $ck --resume "$tmp/magic.ckpt"
patch version.ckpt 8 '\003'
refuse 1 "version.ckpt: version 3, this trainer reads 2" $ck --resume "$tmp/version.ckpt"
refuse 1 "half.ckpt: network (0 res, 1 mobile, 2 shuffle, 3 res18) differs" $ck --net mobile --resume "$tmp/half.ckpt"
refuse 1 "half.ckpt: sampler differs" $tiny --steps 12 --sampler pk --resume "$tmp/half.ckpt"
refuse 1 "half.ckpt: image width differs: file 16, this run 8" $ck --size 32x8 --resume "$tmp/half.ckpt"
refuse 1 "half.ckpt: number of classes differs" $ck --ids-train 20 --resume "$tmp/half.ckpt"
refuse 1 "half.ckpt: training images differs" $ck --imgs 9 --resume "$tmp/half.ckpt"
refuse 1 "half.ckpt: optimizer (0 sgd, 1 adam) differs" $ck --opt adam --resume "$tmp/half.ckpt"
patch nparams.ckpt 57 '\377'
refuse 1 "nparams.ckpt: parameter count differs" $ck --resume "$tmp/nparams.ckpt"
patch nstate.ckpt 65 '\377'
refuse 1 "nstate.ckpt: BN state size differs" $ck --resume "$tmp/nstate.ckpt"
refuse 1 "half.ckpt: training data (hash) differs" $ck --data-seed 2 --resume "$tmp/half.ckpt"
patch payload.ckpt 192 '\001'
refuse 1 "payload.ckpt: payload size does not match the shapes" $ck --resume "$tmp/payload.ckpt"
head -c 5000 "$tmp/half.ckpt" > "$tmp/cut.ckpt"
refuse 1 "cut.ckpt: truncated" $ck --resume "$tmp/cut.ckpt"
cp "$tmp/half.ckpt" "$tmp/long.ckpt"; printf 'x' >> "$tmp/long.ckpt"
refuse 1 "long.ckpt: trailing bytes after the payload" $ck --resume "$tmp/long.ckpt"
# what the checksum cannot vouch for: crafted files with a matching checksum
refuse 1 "shuffle order holds an image index out of range" --net shuffle --size 8x8 --emb 2 \
    --ids-train 2 --ids-test 2 --imgs 2 --cams 2 --distractors 0 --P 2 --K 2 --sampler shuffle \
    --threads 1 --quiet --steps 4 --resume tests/fuzz/repro/ckpt_perm_out_of_range.ckpt
if command -v python3 > /dev/null 2>&1; then
    # craft OUT FIELD: half.ckpt with the cursor or one nearest[] entry out of
    # range and the FNV-1a checksum recomputed (the header of train.c: 208
    # bytes, cursor at 96, nparams 56, nstate 64, classes 48, checksum 200)
    craft() {
        python3 - "$tmp/half.ckpt" "$tmp/$1" "$2" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
classes, nparams, nstate = (struct.unpack_from("<Q", b, o)[0] for o in (48, 56, 64))
if sys.argv[3] == "cursor":
    struct.pack_into("<Q", b, 96, 1 << 40)
else:  # nearest[0]: after params, state, optimizer m and v, c
    struct.pack_into("<i", b, 208 + 4 * (3 * nparams + nstate + classes), classes)
struct.pack_into("<Q", b, 200, 0)
h = 0xcbf29ce484222325
for x in b:
    h = ((h ^ x) * 0x100000001b3) & (2 ** 64 - 1)
struct.pack_into("<Q", b, 200, h)
open(sys.argv[2], "wb").write(b)
PY
    }
    craft cursor.ckpt cursor
    refuse 1 "cursor.ckpt: sampler cursor out of range" $ck --resume "$tmp/cursor.ckpt"
    craft nearest.ckpt nearest
    refuse 1 "nearest.ckpt: nearest identity out of range" $ck --resume "$tmp/nearest.ckpt"
else
    echo "train-smoke: no python3: crafted cursor / nearest checkpoints not tried"
fi
# the Market-1501 loader: each refusal names the set or the file
rm "$tmp/market/query/0030_c2s1_000999_00.jpg"
printf 'x' > "$tmp/market/query/Thumbs.db"; printf 'x' > "$tmp/market/query/.0001_c1s1_000001_00.jpg"
$bin $tiny --data "$tmp/market" --steps 2 > /dev/null 2>&1 || fail "a Thumbs.db and a hidden file are not skipped"
mk() { rm -rf "$tmp/m2"; cp -r "$tmp/market" "$tmp/m2"; }
mk; rm -r "$tmp/m2/query"
refuse 1 "cannot open directory $tmp/m2/query" $tiny --data "$tmp/m2" --steps 2
mk; cp "$tmp/m2/query/$(ls "$tmp/m2/query" | grep jpg | head -1)" "$tmp/m2/query/Thumbs_c1.jpg"
refuse 1 "m2/query/Thumbs_c1.jpg: name is not PPPP_cC..._NN.jpg" $tiny --data "$tmp/m2" --steps 2
refuse 0 "skipped 1 bad files" $tiny --data "$tmp/m2" --steps 2 --skip-bad
mk; for f in "$tmp/m2/bounding_box_train/"*; do mv "$f" "$(dirname "$f")/-1_$(basename "$f" | cut -d_ -f2-)"; done
refuse 1 "m2/bounding_box_train: no usable images" $tiny --data "$tmp/m2" --steps 2
grep -q "junk/distractor images left out" "$tmp/r.txt" || fail "no usable images: the left-out count"
# a PNG header that declares 10000 x 10000 pixels (60 bytes asking for 300 MB)
mk; printf '\211PNG\r\n\032\n\000\000\000\015IHDR\000\000\047\020\000\000\047\020\010\002\000\000\000\000\000\000\000' \
    > "$tmp/m2/bounding_box_test/0001_c1s1_000001_00.png"
refuse 1 "0001_c1s1_000001_00.png: cannot decode image (more than 2^25 pixels)" $tiny --data "$tmp/m2" --steps 2
# a PNG whose data chunk claims 2 GB (stb_image 2.27 would allocate them)
mk; printf '\211PNG\r\n\032\n\000\000\000\015IHDR\000\000\000\004\000\000\000\004\010\002\000\000\000\000\000\000\000\177\000\000\116IDATxyz' \
    > "$tmp/m2/bounding_box_test/0001_c1s1_000001_00.png"
refuse 1 "cannot decode image (corrupt PNG: a chunk longer than the file)" $tiny --data "$tmp/m2" --steps 2
# a file past the loader's 64 MiB cap (sparse: nothing written to disk)
mk; truncate -s 65M "$tmp/m2/bounding_box_test/0001_c1s1_000001_00.jpg"
refuse 1 "cannot decode image (file larger than 64 MiB)" $tiny --data "$tmp/m2" --steps 2
# a BMP of height 0 (stb_image "decodes" it to no pixels; the resize read
# past them: tests/fuzz/repro/market_README.txt)
mk; cp tests/fuzz/repro/market_bmp_height0.bmp "$tmp/m2/bounding_box_test/0001_c1s1_000001_00.bmp"
refuse 1 "cannot decode image (an image of 0 pixels)" $tiny --data "$tmp/m2" --steps 2
# a JPEG whose Huffman table counts sum past 256 (Debian's stb_image 2.27
# would write past its table)
mk; f=$(ls "$tmp/m2/bounding_box_test/"*.jpg | head -1)
at=$(od -An -tx1 -v "$f" | tr -s ' \n' '\n\n' | awk 'NF { b[n++] = $1 } END { for (i = 0; i + 1 < n; i++) if (b[i] == "ff" && b[i + 1] == "c4") { print i; exit } }')
[ -n "$at" ] || fail "no DHT segment in $f"
printf '\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377' | dd of="$f" bs=1 seek=$((at + 5)) conv=notrunc 2>/dev/null
refuse 1 "cannot decode image (corrupt JPEG: a Huffman table with more than 256 codes)" $tiny --data "$tmp/m2" --steps 2
echo "train-smoke: usage, data, output, checkpoint and Market-1501 refusals: status and message"
echo "train-smoke: ok"
