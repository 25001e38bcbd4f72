#!/bin/sh
# bench/train_torch.sh - images/s of a training step: build/train --bench
# (the res18 preset, 64 x 32, batch 64, SGD, CosFace) against the same
# network in PyTorch (bench/train_torch.py), same threads, same run,
# alternating, REPS times each; the ratio of medians.
#   sh bench/train_torch.sh build/train [STEPS] [REPS]
set -eu
bin=${1:-build/train} steps=${2:-30} reps=${3:-3}
printf 'machine: %s, %s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    "$(/usr/bin/python3 -c 'import torch; print("torch", torch.__version__, torch.__config__.parallel_info().splitlines()[0])')"
printf 'hardreid %s, git %s, %s, ISA %s\n' "$(sed -n 's/^#define HARDREID_VERSION_STRING "\(.*\)"/\1/p' hardreid.h)" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(${CC:-cc} --version | head -1)" \
    "$($bin --net res18 --size 64x32 --ids-train 400 --bench 1 --threads 1 2>&1 | sed -n 's/.*, isa \([a-z0-9]*\).*/\1/p')"
# what PyTorch's convolutions ran on: oneDNN's ISA and implementations (one step)
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ONEDNN_VERBOSE=1 /usr/bin/python3 bench/train_torch.py --threads 1 --steps 1 2>&1 |
    awk -F, '/isa:/ && !i { sub(/^isa:/, "", $4); printf "PyTorch oneDNN ISA: %s\n", $4; i = 1 }
             $2 == "exec" && $4 == "convolution" { n[$5 " " $6]++ }
             END { fflush(); for (k in n) printf "  oneDNN convolution %s: %d calls\n", k, n[k] | "sort"; close("sort") }'
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '| threads | hardreid img/s | PyTorch img/s | ratio |\n|---:|---:|---:|---:|\n'
for t in 1 2; do
    : > /tmp/bt_c.$$; : > /tmp/bt_t.$$
    r=0
    while [ $r -lt "$reps" ]; do
        $bin --net res18 --size 64x32 --ids-train 400 --bench "$steps" --threads $t --quiet |
            sed -n 's/^train img\/s: \([0-9.]*\).*/\1/p' >> /tmp/bt_c.$$
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/train_torch.py --threads $t --steps "$steps" |
            sed -n 's/^train img\/s: \([0-9.]*\).*/\1/p' >> /tmp/bt_t.$$
        r=$((r + 1))
    done
    c=$(median < /tmp/bt_c.$$) p=$(median < /tmp/bt_t.$$)
    printf '| %d | %.0f | %.0f | %.2fx |\n' $t "$c" "$p" "$(echo "$c $p" | awk '{ print $1 / $2 }')"
done
rm -f /tmp/bt_c.$$ /tmp/bt_t.$$
