# examples/mpi/mpi.mk - hardreid-difficulty over MPI ranks (included by the
# Makefile after examples/examples.mk: CC, BUILD, CFLAGS_BASE, OMP, HR_LIBS,
# TOOLS, CLI, NPY_GEN come from there). See examples/mpi/README.md.
#   make mpi         $(BUILD)/tools/hardreid-mpi (mpicc; Debian: libopenmpi-dev)
#   make test-mpi    hardreid-mpi at 1-6 ranks against hardreid-difficulty,
#                    byte for byte; bad input on one rank (part of make test)
#   make bench-mpi   strong scaling at 1-4 ranks on one generated matrix
#                    (MPI_BENCH_N x MPI_BENCH_D, 1 thread per rank) ->
#                    $(BUILD)/mpi_scaling.csv and bench/plots/mpi_scaling.csv
# MPIRUN runs them; with Open MPI the test and the bench oversubscribe the
# cores, accept root and use shared memory only (a laptop or a container).

MPICC         ?= mpicc
MPIRUN        ?= mpirun
MPI_TOOL      := $(TOOLS)/hardreid-mpi
NPY_ROWS_TEST := $(TOOLS)/npy_rows_test
MPI_BENCH_N   ?= 20000
MPI_BENCH_D   ?= 256
MPI_BENCH_NP  ?= 1 2 3 4

.PHONY: mpi mpi-deps test-mpi bench-mpi

test-all: test-mpi

# Debian's packages when mpicc or mpirun is missing (scripts/deps.sh mpi)
mpi-deps:
	@command -v $(MPICC) >/dev/null 2>&1 && command -v $(MPIRUN) >/dev/null 2>&1 || sh scripts/deps.sh mpi

$(MPI_TOOL): examples/mpi/hardreid_mpi.c examples/cli_common.h examples/npy.h hardreid.h | $(TOOLS) mpi-deps
	$(MPICC) $(CFLAGS_BASE) $(OMP) -o $@ examples/mpi/hardreid_mpi.c $(HR_LIBS)

$(NPY_ROWS_TEST): examples/mpi/npy_rows_test.c examples/npy.h | $(TOOLS)
	$(CC) $(CFLAGS_BASE) -o $@ examples/mpi/npy_rows_test.c

mpi: $(MPI_TOOL)

test-mpi: $(MPI_TOOL) $(CLI) $(NPY_GEN) $(NPY_ROWS_TEST)
	@echo "== MPI: hardreid-mpi at 1-6 ranks against hardreid-difficulty, bad input =="
	@MPIRUN="$(MPIRUN)" sh examples/mpi/test_mpi.sh $(MPI_TOOL) $(CLI) $(NPY_GEN) \
	  $(NPY_ROWS_TEST) $(TOOLS)/mpi_test

# the same tests where /sys is missing (a container; root: a mount namespace
# with an empty tmpfs over /sys): Open MPI then prints hwloc notes on every
# rank, which the tests must ignore. CI runs it.
.PHONY: test-mpi-nosys
test-mpi-nosys: $(MPI_TOOL) $(CLI) $(NPY_GEN) $(NPY_ROWS_TEST)
	@[ "$$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 || { \
	  echo "test-mpi-nosys: needs root and unshare (util-linux) to hide /sys" >&2; exit 1; }
	@echo "== MPI without /sys =="
	@unshare -m sh -c 'mount -t tmpfs none /sys && [ ! -e /sys/devices ] && \
	  MPIRUN="$(MPIRUN)" sh examples/mpi/test_mpi.sh $(MPI_TOOL) $(CLI) $(NPY_GEN) \
	  $(NPY_ROWS_TEST) $(TOOLS)/mpi_test_nosys'


bench-mpi: $(MPI_TOOL) $(CLI) $(NPY_GEN)
	@MPIRUN="$(MPIRUN)" sh examples/mpi/bench_mpi.sh $(MPI_TOOL) $(CLI) $(NPY_GEN) \
	  $(BUILD)/mpi_bench "$(MPI_BENCH_N)" "$(MPI_BENCH_D)" "$(MPI_BENCH_NP)"
	@mkdir -p bench/plots && cp $(BUILD)/mpi_bench/mpi_scaling.csv bench/plots/mpi_scaling.csv
	@echo "bench-mpi: bench/plots/mpi_scaling.csv"

# make test-faults: runs failing from the outside (tests/faults_test.sh):
# SIGINT/SIGTERM to the CLI, a full disk under the CLI and the trainer's
# checkpoint, an MPI rank killed mid-ring; no temp file left, older outputs
# intact. Here because it needs the CLI, the MPI tool and the trainer.
.PHONY: test-faults
test-all: test-faults
test-faults: $(CLI) $(NPY_GEN) $(MPI_TOOL) $(BUILD)/train
	@echo "== faults: signals, a full disk, a rank killed mid-ring =="
	@sh tests/faults_test.sh $(CLI) $(NPY_GEN) $(MPI_TOOL) $(BUILD)/train $(TOOLS)/faults_test

# make test-soak: the same faults on a 100000 x 512 W (200 MB; ~3 min on 2
# cores; in CI, not in make test)
.PHONY: test-soak
test-soak: $(CLI) $(NPY_GEN) $(MPI_TOOL) $(BUILD)/train
	@echo "== soak: the faults at 100000 x 512 =="
	@t0=$$(date +%s); FAULTS_N=100000 FAULTS_D=512 sh tests/faults_test.sh $(CLI) $(NPY_GEN) \
	  $(MPI_TOOL) $(BUILD)/train $(TOOLS)/soak_test && echo "soak: $$(( $$(date +%s) - t0 )) s"; \
	  s=$$?; rm -rf $(TOOLS)/soak_test; exit $$s
