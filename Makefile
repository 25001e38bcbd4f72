# hardreid — build, test, bench, demo.
#   make deps         install (or name) the Debian packages of demo and test
#                     (DEPS="demo test"; other groups: bench plots mpi ...)
#   make demo         the difficulty demo on embedded data (make deps first)
#   make test         every test (a missing test dependency fails it unless
#                     HR_ALLOW_SKIP=1): header compile checks (gcc, clang, C99,
#                     C++11), x86 suite (scalar + AVX2, Criterion), and the same
#                     suite for NEON cross-built and run under qemu-aarch64
#   make bench        difficulty benchmark sweep against OpenBLAS and FAISS
#   make bench-sampling  alias sampler against GSL and cumsum + binary search
#   make bench-smoke  seconds-long benchmark cases (CI)
#   make bench-gemm   hr_gemm against OpenBLAS sgemm (square and FC shapes)
#   make bench-conv   hr_conv2d against oneDNN (forward, backward data, weights)
#   make bench-scale  hr_difficulty over threads; hr_difficulty_update per step
#   make bench-versions  this tree against an older revision (OLD=rev), path by path
#   make cli          the difficulty CLI (build/tools/hardreid-difficulty)
#   make lib          build/libhardreid.so (for -lhardreid and Python ctypes)
#   make install      PREFIX=/usr/local (DESTDIR too): header, CLI, .so, .pc,
#                     CMake package, man pages, LICENSE
#   make docs         docs/API.md from the header's comments (test-docs checks it)
#   make test-tools   CLI, Python and install tests (part of make test)
#   make test-python-pkg  pip install . into a venv, pytest python/tests (make test)
#   make mpi / test-mpi / bench-mpi  the difficulty over MPI ranks (examples/mpi/)
#   make plots        benchmark CSVs -> SVG charts in bench/plots/ (gnuplot)
#   make bench-cli    hyperfine: the CLI against numpy on one .npy
#   make test-asan    the test suite under ASan (+ LeakSanitizer, alloc_fail)
#   make test-ubsan   the test suite under UBSan (-fno-sanitize-recover=all)
#   make test-tsan    the test suite under ThreadSanitizer (clang, libomp + Archer)
#   make test-valgrind  valgrind memcheck of the demo, the CLI and the trainer
#   make test-alloc   allocation failure and size limits (part of make test)
#   make test-mpi-nosys  the MPI tests with /sys hidden (root; CI)
#   make test-fresh   the two README commands in a debootstrap'd Debian 12
#                     (root, network, 15-25 min; FRESH_SYS=1 mounts /sys)
#   make fuzz         libFuzzer harnesses, FUZZ_TIME s each (fuzz-build: build)
# Missing Debian packages are installed by scripts/deps.sh (apt-get, as root)
# or named with the exact command to run (not root / not Debian).

CC      ?= cc
CXX     ?= c++
BUILD   ?= build
OPT     ?= -O2
WARN    := -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes
CFLAGS_BASE := -std=c99 $(OPT) -g $(WARN) -I. -DHR_SLEEF_STRONG
OMP     ?= -fopenmp
# What a program using the implementation links: SLEEF (the heads' vector
# expf on the AVX2 / NEON paths; -DHR_NO_SLEEF drops it) and libm.
HR_LIBS ?= -lsleef -lm
# Benchmarks: the code a figure belongs to (short hash, -dirty for a
# changed tree), and the peers at their best: OPENBLAS_CORETYPE /
# OPENBLAS_L2_SIZE, set on some machines here, would pin OpenBLAS (and
# FAISS) to AVX2 kernels, so bench commands run without them, and where
# OpenBLAS does not know the CPU (it then runs SSE3 kernels) with the
# fastest kernel set it has for it: bench/peer_env.sh. Tests never touch them.
BENCH_GIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
BENCH_PROBE = $(BUILD)/blas_probe
BENCH_ENV ?= sh bench/peer_env.sh $(BENCH_PROBE)
, := ,
AARCH64_CC ?= aarch64-linux-gnu-gcc
QEMU_AARCH64 ?= qemu-aarch64 -L /usr/aarch64-linux-gnu

.PHONY: all test demo bench bench-deps clean

.PHONY: test-fresh
test-fresh:
	sh scripts/test_fresh.sh

all: test-build

$(BUILD):
	@mkdir -p $(BUILD)

# deps first, then the rules from the included files
bench bench-smoke bench-rss bench-build bench-sampling bench-sampling-smoke \
  bench-sampling-build bench-gemm bench-gemm-smoke bench-gemm-build \
  bench-conv bench-conv-smoke bench-conv-build: bench-deps
bench bench-smoke bench-rss bench-sampling bench-sampling-smoke bench-gemm \
  bench-gemm-smoke bench-conv bench-conv-smoke bench-scale bench-scale-smoke \
  bench-cli: $(BENCH_PROBE)
bench-deps:
	@sh scripts/deps.sh bench

include tests/tests.mk
include examples/examples.mk
include examples/mpi/mpi.mk
include bench/bench.mk
include python/python.mk

# The Debian packages a target needs, installed (as root) or named with
# the command to run: `make deps` (DEPS=demo test by default; groups in
# scripts/deps.sh). make demo and make test call it first, visibly.
DEPS ?= demo test
.PHONY: deps
deps:
	sh scripts/deps.sh $(DEPS)

test:
	@$(MAKE) --no-print-directory deps DEPS=test
	@$(MAKE) --no-print-directory test-all

clean:
	rm -rf $(BUILD)
