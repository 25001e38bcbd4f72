# bench/bench.mk - the difficulty benchmark (included by the Makefile).
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
