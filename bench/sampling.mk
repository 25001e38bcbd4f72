# bench/sampling.mk - the alias-sampler benchmark (included by the Makefile;
# CC, BUILD, CFLAGS_BASE, OMP come from there).
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
