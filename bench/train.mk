# bench/train.mk - the training-kernel benchmarks (included by the Makefile;
# CC, BUILD, CFLAGS_BASE, OMP come from there).
#   make bench-train-torch a training step vs PyTorch (below)
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
	$(CC) $(BENCH_GEMM_FLAGS) -DBENCH_FLAGS='"$(BENCH_GEMM_FLAGS)"' -DBENCH_GIT='"$(BENCH_GIT)"' -o $@ \
	  bench/bench_gemm.c $(PEER_BLAS) $(HR_LIBS)

bench-gemm-build: $(BENCH_GEMM_BIN)

bench-gemm: $(BENCH_GEMM_BIN)
	$(BENCH_ENV) $(BENCH_GEMM_BIN) --csv $(BUILD)/bench_gemm.csv $(BENCH_GEMM_ARGS)

bench-gemm-smoke: $(BENCH_GEMM_BIN)
	$(BENCH_ENV) $(BENCH_GEMM_BIN) --quick --csv $(BUILD)/bench_gemm_smoke.csv

# ---- conv vs oneDNN -----------------------------------------------------
#   make bench-conv        4 layers (batch 32), forward and fwd+bwd, 1 then
#                          2 threads (~2 min); CSV in $(BUILD)/bench_conv.csv
#   make bench-conv-smoke  two tiny layers, seconds (CI)
# Peer: oneDNN's C API (Debian libdnnl-dev).
BENCH_CONV_BIN = $(BUILD)/bench_conv
BENCH_CONV_ARGS ?=

.PHONY: bench-conv bench-conv-build bench-conv-smoke bench-conv-check-deps

bench-conv-check-deps:
	@printf '#include <oneapi/dnnl/dnnl.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 || { \
	  echo "bench-conv: oneDNN headers missing: apt-get install libdnnl-dev" >&2; exit 1; }

$(BENCH_CONV_BIN): bench/bench_conv.c bench/bench_util.h bench/bench_peak.h hardreid.h | $(BUILD) bench-conv-check-deps
	$(CC) $(BENCH_GEMM_FLAGS) -DBENCH_FLAGS='"$(BENCH_GEMM_FLAGS)"' -DBENCH_GIT='"$(BENCH_GIT)"' -o $@ \
	  bench/bench_conv.c -ldnnl $(HR_LIBS)

bench-conv-build: $(BENCH_CONV_BIN)

bench-conv: $(BENCH_CONV_BIN)
	$(BENCH_ENV) $(BENCH_CONV_BIN) --csv $(BUILD)/bench_conv.csv $(BENCH_CONV_ARGS)

bench-conv-smoke: $(BENCH_CONV_BIN)
	$(BENCH_ENV) $(BENCH_CONV_BIN) --quick --csv $(BUILD)/bench_conv_smoke.csv

# ---- a training step vs PyTorch -------------------------------------------
#   make bench-train-torch  build/train --bench against the same network in
#                           PyTorch (bench/train_torch.py), 1 and 2 threads,
#                           3 alternating runs each (~2 min)
.PHONY: bench-train-torch
bench-train-torch: train
	@sh scripts/deps.sh test
	sh bench/train_torch.sh $(BUILD)/train 30 3 | tee $(BUILD)/bench_train_torch.md
