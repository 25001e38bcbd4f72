#!/bin/sh
# examples/python/check_steps.sh - the first training step of build/train
# against PyTorch for every net and head (check_step.py: loss and every
# gradient vs a float64 replay), on the embedded data at a small size.
# make test-python runs it where the python has torch.
#   sh examples/python/check_steps.sh build/train [python3]
set -eu
bin=${1:-build/train} py=${2:-/usr/bin/python3}
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tiny="--ids-train 24 --ids-test 12 --imgs 8 --distractors 10 --P 6 --K 4 --size 32x16 --threads 1 --quiet"
n=0
for case in "res cos" "res18 cos" "mobile arc" "shuffle sphere" "res softmax" "res18 arc --ls 0.1"; do
    set -- $case
    net=$1 head=$2; shift 2
    $bin $tiny --steps 1 --net $net --head $head "$@" --dump-step "$tmp/d.hrw" > /dev/null
    if ! $py "$here/check_step.py" "$tmp/d.hrw" --net $net --head $head "$@" --threads 1; then
        echo "check_steps: FAIL: --net $net --head $head $*" >&2
        exit 1
    fi
    n=$((n + 1))
done
echo "check_steps: $n first steps agree with PyTorch (float64 replay)"
