#!/bin/sh
# examples/mpi/bench_mpi.sh MPI_TOOL CLI NPY_GEN WORKDIR N D "RANKS"
# Strong scaling of hardreid-mpi on one generated N x D matrix, one OpenMP
# thread per rank: verify first (each run's outputs against
# hardreid-difficulty --threads 1, byte for byte), then the median of REPS
# (default 5) runs per rank count, the counts taken in turn. Prints a table and writes
# WORKDIR/mpi_scaling.csv. MPIRUN as in test_mpi.sh; MPIRUN_FLAGS are added
# to each mpirun (e.g. "--bind-to none").
set -u
MPI=$1 CLI=$2 GEN=$3 DIR=$4 N=$5 D=$6 NPS=$7
MPIRUN=${MPIRUN:-mpirun}
REPS=${REPS:-5}
mkdir -p "$DIR" || exit 1
if $MPIRUN --version 2>/dev/null | grep -q "Open MPI"; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_rmaps_base_oversubscribe=1
    export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
fi
export OMP_NUM_THREADS=1
W=$DIR/w_${N}x$D.npy
CSV=$DIR/mpi_scaling.csv

echo "bench-mpi: N = $N, d = $D, ranks $NPS, 1 thread per rank, median of $REPS"
echo "machine: $(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
[ -f "$W" ] || "$GEN" --seed 1 --twins 100 "$N" "$D" "$W" || exit 1
t0=$(date +%s.%N)
"$CLI" -q --threads 1 --prefix "$DIR/ref" "$W" || exit 1
t1=$(date +%s.%N)
echo "hardreid-difficulty --threads 1 (reference): $(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }') s wall"

# median of the values on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "ranks,threads_per_rank,N,d,read_s,compute_s,wait_s,reduce_s,gflops,speedup,efficiency,bytes_per_rank_full_step,bytes_per_rank_half_step,ring_steps" >"$CSV"
printf '%5s %9s %9s %9s %9s %8s %8s %6s %14s %14s\n' ranks read_s compute_s wait_s reduce_s GFLOP/s speedup eff bytes/full_step bytes/half_step
# round robin over the rank counts, so that a disturbance (another job
# starting) spreads over all of them instead of one
for np in $NPS; do : >"$DIR/runs.$np"; done
r=0
while [ $r -lt "$REPS" ]; do
    r=$((r + 1))
    for np in $NPS; do
        rm -f "$DIR/p.difficulty.npy" "$DIR/p.nearest.npy"
        $MPIRUN ${MPIRUN_FLAGS:-} -np "$np" "$MPI" --threads 1 --hardest 0 --prefix "$DIR/p" "$W" 2>"$DIR/err" ||
            { echo "bench-mpi: $np ranks failed:"; cat "$DIR/err"; exit 1; }
        cmp -s "$DIR/ref.difficulty.npy" "$DIR/p.difficulty.npy" && cmp -s "$DIR/ref.nearest.npy" "$DIR/p.nearest.npy" ||
            { echo "bench-mpi: $np ranks: outputs differ from hardreid-difficulty"; exit 1; }
        ring=$(sed -n 's/^ring: \([0-9]*\) steps\{0,1\} .*per step: \([0-9]*\) full, \([0-9]*\) half$/\1 \2 \3/p' "$DIR/err")
        sed -n 's/^time: read \([0-9.]*\) s, compute \([0-9.]*\) s (of which waiting for blocks \([0-9.]*\) s), reduce \([0-9.]*\) s.*/\1 \2 \3 \4/p' "$DIR/err" |
            sed "s/\$/ $ring/" >>"$DIR/runs.$np"
    done
done
base=""
for np in $NPS; do
    rd=$(awk '{ print $1 }' "$DIR/runs.$np" | median)
    cp=$(awk '{ print $2 }' "$DIR/runs.$np" | median)
    wt=$(awk '{ print $3 }' "$DIR/runs.$np" | median)
    re=$(awk '{ print $4 }' "$DIR/runs.$np" | median)
    [ -n "$base" ] || base=$cp
    set -- $(awk 'NR == 1 { print $5, $6, $7 }' "$DIR/runs.$np")
    echo "$np $rd $cp $wt $re $base $N $D $1 $2 $3" | awk -v csv="$CSV" '{
        gf = $7 * ($7 - 1) * $8 / $3 * 1e-9; sp = $6 / $3
        printf "%5d %9.3f %9.3f %9.3f %9.3f %8.1f %8.2f %5.0f%% %14d %14d\n", $1, $2, $3, $4, $5, gf, sp, 100 * sp / $1, $10, $11
        printf "%d,1,%d,%d,%.4f,%.4f,%.4f,%.4f,%.2f,%.3f,%.3f,%d,%d,%d\n", $1, $7, $8, $2, $3, $4, $5, gf, sp, sp / $1, $10, $11, $9 >> csv
    }'
done
echo "load after: $(uptime | sed 's/.*load average/load average/')"
echo "csv: $CSV"
