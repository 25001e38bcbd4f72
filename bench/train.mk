# bench/train.mk - the training-kernel benchmarks (included by the Makefile;
# CC, BUILD, CFLAGS_BASE, OMP come from there).
#   make bench-gemm        hr_gemm vs OpenBLAS sgemm: square 256..2048 and
#                          FC shapes (forward, dx, dW), 1 then 2 threads
#                          (~2 min); CSV in $(BUILD)/bench_gemm.csv
#   make bench-gemm-smoke  two small cases, seconds (CI)
# Built without -mavx2: the run-time dispatch is what gets measured.
# Peer: OpenBLAS (Debian libopenblas-dev).

BENCH_GEMM_BIN   = $(BUILD)/bench_gemm
BENCH_GEMM_FLAGS = $(CFLAGS_BASE) $(OMP)
BENCH_GEMM_ARGS ?=

.PHONY: bench-gemm bench-gemm-build bench-gemm-smoke

$(BENCH_GEMM_BIN): bench/bench_gemm.c bench/bench_util.h bench/bench_peak.h hardreid.h | $(BUILD) bench-check-deps
	$(CC) $(BENCH_GEMM_FLAGS) -DBENCH_FLAGS='"$(BENCH_GEMM_FLAGS)"' -o $@ \
	  bench/bench_gemm.c -lopenblas -lm

bench-gemm-build: $(BENCH_GEMM_BIN)

bench-gemm: $(BENCH_GEMM_BIN)
	$(BENCH_GEMM_BIN) --csv $(BUILD)/bench_gemm.csv $(BENCH_GEMM_ARGS)

bench-gemm-smoke: $(BENCH_GEMM_BIN)
	$(BENCH_GEMM_BIN) --quick --csv $(BUILD)/bench_gemm_smoke.csv
