# bench/scale.mk - how difficulty scales (included by the Makefile; CC,
# BUILD, CFLAGS_BASE, OMP, HR_LIBS come from there).
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
