# bench/bench.mk - every benchmark target (included by the Makefile, after
# the examples: bench-cli builds on the CLI's variables). Sections: the
# difficulty bench, the alias sampler, scaling, GEMM / conv / the training
# step, charts.

# ---- the difficulty benchmark ---------------------------------------------
#   make bench        full sweep (~20-30 min): table on stdout, CSV in
#                     $(BUILD)/bench_difficulty.csv, then bench-rss
#   make bench-smoke  N=1024 d=64, seconds (CI)
#   make bench-rss    peak RSS of one hr_difficulty call, own process
#   make bench BENCH_ARGS='--n 16384 --d 512 --threads 1'   a subset
# Built without -mavx2: the run-time dispatch is what gets measured.
# Peers: OpenBLAS (libopenblas-dev) and FAISS (libfaiss-dev, static).

BENCH_CFLAGS   = $(CFLAGS_BASE) $(OMP)
BENCH_CXXFLAGS = -std=c++11 $(OPT) -g -Wall -Wextra -I. $(OMP)
# The peers' BLAS: Debian's OpenMP build of OpenBLAS where it is installed
# (libopenblas0-openmp), so OpenBLAS, FAISS and hardreid share one libgomp
# thread pool; the default pthread build would run its own pool beside
# OpenMP's and oversubscribe the cores at 2 threads (measured: 4x slower
# at N=1024). The core it runs is printed in each bench's meta line.
OPENBLAS_OMP_DIR ?= /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/openblas-openmp
PEER_BLAS ?= $(if $(wildcard $(OPENBLAS_OMP_DIR)/libopenblas.so.0),-L$(OPENBLAS_OMP_DIR) -l:libopenblas.so.0 -Wl$(,)-rpath$(,)$(OPENBLAS_OMP_DIR),-lopenblas)
BENCH_LIBS     = -lfaiss $(PEER_BLAS) -lgomp -lstdc++ $(HR_LIBS)
BENCH_ARGS    ?=
BENCH_RSS_ARGS ?= 200000 256 2
BENCH_BIN      = $(BUILD)/bench_difficulty

.PHONY: bench-build bench-smoke bench-rss bench-check-deps

bench-check-deps:
	@printf '#include <cblas.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 || { \
	  echo "bench: OpenBLAS headers missing: apt-get install libopenblas-dev libfaiss-dev" >&2; exit 1; }
	@printf '#include <faiss/utils/distances.h>\n' | $(CXX) -std=c++11 -E -x c++ - >/dev/null 2>&1 || { \
	  echo "bench: FAISS headers missing: apt-get install libopenblas-dev libfaiss-dev" >&2; exit 1; }

$(BUILD)/bench_difficulty.o: bench/bench_difficulty.c bench/peer.h bench/bench_util.h hardreid.h | $(BUILD) bench-check-deps
	$(CC) $(BENCH_CFLAGS) -DBENCH_FLAGS='"$(BENCH_CFLAGS)"' -DBENCH_GIT='"$(BENCH_GIT)"' -c -o $@ bench/bench_difficulty.c

$(BUILD)/peer_faiss.o: bench/peer_faiss.cpp bench/peer.h | $(BUILD) bench-check-deps
	$(CXX) $(BENCH_CXXFLAGS) -c -o $@ bench/peer_faiss.cpp

$(BENCH_BIN): $(BUILD)/bench_difficulty.o $(BUILD)/peer_faiss.o
	$(CC) $(OMP) -o $@ $^ $(BENCH_LIBS)

bench-build: $(BENCH_BIN)

# bench/peer_env.sh's probe of OpenBLAS's kernel sets
$(BENCH_PROBE): bench/blas_probe.c | $(BUILD) bench-check-deps
	$(CC) $(CFLAGS_BASE) -o $@ bench/blas_probe.c $(PEER_BLAS)

bench: bench-build
	$(BENCH_ENV) $(BENCH_BIN) --csv $(BUILD)/bench_difficulty.csv $(BENCH_ARGS)
	@$(MAKE) --no-print-directory bench-rss

bench-rss: bench-build
	$(BENCH_ENV) $(BENCH_BIN) --rss $(BENCH_RSS_ARGS)

bench-smoke: bench-build
	$(BENCH_ENV) $(BENCH_BIN) --quick --csv $(BUILD)/bench_smoke.csv

# make bench-versions [OLD=rev] [ISAS="scalar avx2"]: this tree's calls
# against an older revision's, alternately on one path and one thread
# (bench/versions.sh): "no slower than before" as a measurement
OLD ?= 8664093
ISAS ?= scalar avx2
.PHONY: bench-versions
bench-versions: | $(BUILD)
	OLD='$(OLD)' ISAS='$(ISAS)' BUILD='$(BUILD)' CC='$(CC)' FLAGS='-std=c99 $(OPT) -g $(OMP)' LIBS='$(HR_LIBS)' sh bench/versions.sh

# ---- the alias-sampler benchmark ------------------------------------------
#   make bench-sampling        n = 10^3, 10^5, 10^6 (~1-2 min): table and
#                              MET/MISSED targets on stdout, CSV in
#                              $(BUILD)/bench_sampling.csv
#   make bench-sampling-smoke  n = 10^3, seconds (CI)
#   make bench-sampling BENCH_SAMPLING_ARGS='--n 1000,1000000 --reps 9'
# Peers: GSL's gsl_ran_discrete (Walker alias; Debian libgsl-dev) and a
# cumulative-sum + binary-search sampler (numpy's / torch.multinomial's way).
# Built without -mavx2: the run-time dispatch is what gets measured.

BENCH_SAMPLING_BIN   = $(BUILD)/bench_sampling
BENCH_SAMPLING_FLAGS = $(CFLAGS_BASE) $(OMP)
BENCH_SAMPLING_ARGS ?=

.PHONY: bench-sampling bench-sampling-build bench-sampling-smoke bench-sampling-check-deps

bench-sampling-check-deps:
	@printf '#include <gsl/gsl_randist.h>\nint main(void){return gsl_rng_default == 0;}\n' | \
	  $(CC) -x c - -o /dev/null -lgsl -lgslcblas -lm >/dev/null 2>&1 || { \
	  echo "bench-sampling: GSL (headers + library) not found for $(CC):" \
	  "install the Debian package libgsl-dev" >&2; exit 1; }

$(BENCH_SAMPLING_BIN): bench/bench_sampling.c bench/bench_util.h hardreid.h | $(BUILD) bench-sampling-check-deps
	$(CC) $(BENCH_SAMPLING_FLAGS) -DBENCH_FLAGS='"$(BENCH_SAMPLING_FLAGS)"' -DBENCH_GIT='"$(BENCH_GIT)"' -o $@ \
	  bench/bench_sampling.c -lgsl -lgslcblas $(HR_LIBS)

bench-sampling-build: $(BENCH_SAMPLING_BIN)

bench-sampling: $(BENCH_SAMPLING_BIN)
	$(BENCH_ENV) $(BENCH_SAMPLING_BIN) --csv $(BUILD)/bench_sampling.csv $(BENCH_SAMPLING_ARGS)

bench-sampling-smoke: $(BENCH_SAMPLING_BIN)
	$(BENCH_ENV) $(BENCH_SAMPLING_BIN) --quick --csv $(BUILD)/bench_sampling_smoke.csv

# ---- how difficulty scales ------------------------------------------------
#   make bench-scale        N = 100000, d = 256: hr_difficulty at 1 .. all
#                           threads, then 20 steps of hr_difficulty_update
#                           with 64 changed rows each, against the full
#                           refresh (~2 min on 2 cores); CSV in
#                           $(BUILD)/bench_scale.csv
#   make bench-scale-smoke  N = 4000, d = 64 (seconds; CI)
#   make bench-scale BENCH_SCALE_ARGS='--n 50000 --d 512 --changed 128'
# The MPI example's scaling: make bench-mpi (examples/mpi/mpi.mk).
# Built without -mavx2: the run-time dispatch is what gets measured.

BENCH_SCALE_BIN   = $(BUILD)/bench_scale
BENCH_SCALE_FLAGS = $(CFLAGS_BASE) $(OMP)
BENCH_SCALE_ARGS ?=

.PHONY: bench-scale bench-scale-smoke

$(BENCH_SCALE_BIN): bench/bench_scale.c bench/bench_util.h hardreid.h | $(BUILD)
	$(CC) $(BENCH_SCALE_FLAGS) -DBENCH_FLAGS='"$(BENCH_SCALE_FLAGS)"' -DBENCH_GIT='"$(BENCH_GIT)"' -o $@ bench/bench_scale.c $(HR_LIBS)

bench-scale: $(BENCH_SCALE_BIN)
	$(BENCH_ENV) $(BENCH_SCALE_BIN) --csv $(BUILD)/bench_scale.csv $(BENCH_SCALE_ARGS)

bench-scale-smoke: $(BENCH_SCALE_BIN)
	$(BENCH_ENV) $(BENCH_SCALE_BIN) --quick

# ---- the training-kernel benchmarks ---------------------------------------
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

# ---- charts and CLI timing (CLI, NPY_GEN, TOOLS, HR_PYTHON from
# examples/examples.mk) ------------------------------------------------------
#   make plots      benchmark CSVs -> SVG charts in bench/plots/ (gnuplot):
#                   difficulty GFLOP/s vs N per method with the FMA peak,
#                   sampler ns/draw and ns/category vs n, hr_gemm vs
#                   OpenBLAS per case (GFLOP/s and ratio, 0.9x target),
#                   conv hardreid/oneDNN ratio per layer (1.0x target)
#   make bench-cli  hyperfine: hardreid-difficulty against numpy (matmul +
#                   masked max) on one generated .npy; markdown table in
#                   $(BUILD)/bench_cli.md
# Neither runs in CI. Debian packages: gnuplot-nox, hyperfine (deps.sh plots).
#
# Which CSVs: the README's merged difficulty table ($(BUILD)/bench_readme.csv)
# or a full `make bench` / bench-sampling / bench-gemm / bench-conv run, else
# the snapshot committed next to the charts (bench/plots/*.csv, the data behind
# the committed SVGs); with none of these, a fresh smoke run (the chart title
# then says so). The CSV used is copied to
# bench/plots/ so the charts and their data are committed together.
# Override: make plots PLOT_DIFF_CSV=... PLOT_SAMP_CSV=... PLOT_GEMM_CSV=...
# PLOT_CONV_CSV=... (the conv smoke run needs oneDNN: libdnnl-dev).

PLOTS_DIR     := bench/plots
PLOT_PY       ?= $(firstword $(wildcard /usr/bin/python3) python3)
PLOT_DIFF_CSV ?= $(firstword $(wildcard $(BUILD)/bench_readme.csv $(BUILD)/bench_difficulty.csv \
                   $(PLOTS_DIR)/difficulty.csv) $(BUILD)/bench_smoke.csv)
PLOT_SAMP_CSV ?= $(firstword $(wildcard $(BUILD)/bench_sampling.csv $(PLOTS_DIR)/sampling.csv) \
                   $(BUILD)/bench_sampling_smoke.csv)
PLOT_GEMM_CSV ?= $(firstword $(wildcard $(BUILD)/bench_gemm.csv $(PLOTS_DIR)/gemm.csv) \
                   $(BUILD)/bench_gemm_smoke.csv)
PLOT_CONV_CSV ?= $(firstword $(wildcard $(BUILD)/bench_conv.csv $(PLOTS_DIR)/conv.csv) \
                   $(BUILD)/bench_conv_smoke.csv)

BENCH_CLI_N   ?= 8192
BENCH_CLI_D   ?= 256
BENCH_CLI_RUNS ?= 10
BENCH_CLI_IN   = $(TOOLS)/bench_cli_w.npy

.PHONY: plots plots-deps bench-cli

plots-deps:
	@sh scripts/deps.sh plots

plots: plots-deps
	@mkdir -p $(PLOTS_DIR)
	@test -f $(PLOT_DIFF_CSV) || $(MAKE) --no-print-directory bench-smoke
	@test -f $(PLOT_SAMP_CSV) || $(MAKE) --no-print-directory bench-sampling-smoke
	@test -f $(PLOT_GEMM_CSV) || $(MAKE) --no-print-directory bench-gemm-smoke
	@test -f $(PLOT_CONV_CSV) || $(MAKE) --no-print-directory bench-conv-smoke
	$(PLOT_PY) bench/plot.py difficulty $(PLOT_DIFF_CSV) $(PLOTS_DIR)/difficulty.svg
	$(PLOT_PY) bench/plot.py sampling $(PLOT_SAMP_CSV) $(PLOTS_DIR)/sampling.svg
	$(PLOT_PY) bench/plot.py gemm $(PLOT_GEMM_CSV) $(PLOTS_DIR)/gemm.svg
	$(PLOT_PY) bench/plot.py conv $(PLOT_CONV_CSV) $(PLOTS_DIR)/conv.svg
	@[ "$(PLOT_DIFF_CSV)" = $(PLOTS_DIR)/difficulty.csv ] || cp $(PLOT_DIFF_CSV) $(PLOTS_DIR)/difficulty.csv
	@[ "$(PLOT_SAMP_CSV)" = $(PLOTS_DIR)/sampling.csv ] || cp $(PLOT_SAMP_CSV) $(PLOTS_DIR)/sampling.csv
	@[ "$(PLOT_GEMM_CSV)" = $(PLOTS_DIR)/gemm.csv ] || cp $(PLOT_GEMM_CSV) $(PLOTS_DIR)/gemm.csv
	@[ "$(PLOT_CONV_CSV)" = $(PLOTS_DIR)/conv.csv ] || cp $(PLOT_CONV_CSV) $(PLOTS_DIR)/conv.csv
	@rm -f $(PLOTS_DIR)/*.gp
	@echo "plots: $(PLOTS_DIR)/difficulty.svg (from $(PLOT_DIFF_CSV)), $(PLOTS_DIR)/sampling.svg (from $(PLOT_SAMP_CSV))"
	@echo "plots: $(PLOTS_DIR)/gemm.svg (from $(PLOT_GEMM_CSV)), $(PLOTS_DIR)/conv.svg (from $(PLOT_CONV_CSV))"

# Verify first (hardreid's outputs against numpy's), then time. Both sides
# read the .npy and write difficulty + nearest .npy files; both use every
# core unless the 1-thread pair says otherwise (OpenBLAS reads
# OPENBLAS_NUM_THREADS, hardreid OMP_NUM_THREADS).
bench-cli: plots-deps $(CLI) $(NPY_GEN)
	@test -n "$(HR_PYTHON)" || { echo "bench-cli: needs a python3 with numpy (python3-numpy)" >&2; exit 1; }
	$(NPY_GEN) --twins 16 --seed 1 $(BENCH_CLI_N) $(BENCH_CLI_D) $(BENCH_CLI_IN)
	$(CLI) --prefix $(TOOLS)/bench_cli_hr $(BENCH_CLI_IN)
	$(HR_PYTHON) bench/peer_numpy.py --verify $(BENCH_CLI_IN) $(TOOLS)/bench_cli_hr
	$(BENCH_ENV) hyperfine --warmup 2 --runs $(BENCH_CLI_RUNS) --export-markdown $(BUILD)/bench_cli.md \
	  --export-json $(BUILD)/bench_cli.json \
	  -n 'hardreid-difficulty, 2 threads' '$(CLI) -q --prefix $(TOOLS)/bench_cli_hr $(BENCH_CLI_IN)' \
	  -n 'numpy (OpenBLAS), 2 threads' '$(HR_PYTHON) bench/peer_numpy.py $(BENCH_CLI_IN) $(TOOLS)/bench_cli_np' \
	  -n 'hardreid-difficulty, 1 thread' 'OMP_NUM_THREADS=1 $(CLI) -q --prefix $(TOOLS)/bench_cli_hr $(BENCH_CLI_IN)' \
	  -n 'numpy (OpenBLAS), 1 thread' 'OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(HR_PYTHON) bench/peer_numpy.py $(BENCH_CLI_IN) $(TOOLS)/bench_cli_np'
	@echo "== $(BUILD)/bench_cli.md ($$(date -u +%Y-%m-%d), $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $$(nproc) cores, $$($(CC) --version | head -1)) =="
	@cat $(BUILD)/bench_cli.md
