# bench/plots.mk - charts and CLI timing (included by the Makefile; BUILD,
# and CLI, NPY_GEN, TOOLS, HR_PYTHON from examples/tools.mk).
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
