#!/bin/sh
# bench/peer_env.sh PROBE COMMAND [ARGS...] - run a benchmark with the peers'
# OpenBLAS (and FAISS, which calls it) at their best.
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which this workplace sets on some
# machines to pin OpenBLAS to AVX2 kernels, are removed. Then OpenBLAS picks
# its own kernels, unless it does not know the CPU: 0.3.21 falls back to
# "Prescott" (SSE3) on CPUs newer than it. So PROBE (build/blas_probe) times
# a 1-thread sgemm with the kernels OpenBLAS picks and with each kernel set
# this CPU can run (Haswell, Zen, SkylakeX, Cooperlake, SapphireRapids, by
# /proc/cpuinfo), and the fastest is set as OPENBLAS_CORETYPE for COMMAND
# only; OpenBLAS's own pick is kept unless another is >= 10% faster. The
# choice and every candidate's rate go to stderr; the benches print the core
# OpenBLAS reports in their meta line. Tests and CI never run this.
set -u
probe=$1
shift
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
if [ ! -x "$probe" ]; then
    echo "peer_env.sh: no $probe: OpenBLAS runs the kernels it picks" >&2
    exec "$@"
fi
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { for f in "$@"; do case " $flags " in *" $f "*) ;; *) return 1 ;; esac; done; }
cands=""
has avx2 fma && cands="Haswell Zen"
has avx512f avx512bw avx512dq avx512vl avx512cd && cands="$cands SkylakeX"
has avx512f avx512bw avx512dq avx512vl avx512cd avx512_bf16 && cands="$cands Cooperlake"
has avx512f avx512bw avx512dq avx512vl avx512cd avx512_bf16 amx_tile && cands="$cands SapphireRapids"
auto=$("$probe") || { echo "peer_env.sh: $probe failed" >&2; exec "$@"; }
best_core=; best_rate=${auto#* }
report="auto: $auto"
for c in $cands; do
    got=$(OPENBLAS_CORETYPE=$c "$probe") || continue
    report="$report, $c: $got"
    # a candidate OpenBLAS was not built with reports another name: skip
    [ "${got% *}" = "$c" ] || continue
    if awk -v a="${got#* }" -v b="$best_rate" -v f="$([ -z "$best_core" ] && echo 1.10 || echo 1.0)" \
        'BEGIN { exit !(a > b * f) }'; then
        best_core=$c; best_rate=${got#* }
    fi
done
if [ -n "$best_core" ]; then
    echo "peer_env.sh: OpenBLAS picks ${auto% *} here; OPENBLAS_CORETYPE=$best_core is faster ($report GFLOP/s, 1-thread sgemm 768^3)" >&2
    OPENBLAS_CORETYPE=$best_core exec "$@"
fi
echo "peer_env.sh: OpenBLAS's own kernels (${auto% *}) are its best here ($report GFLOP/s)" >&2
exec "$@"
