# hardreid — build, test, bench, demo.
#   make test    every test: x86 (scalar + AVX2, Criterion), header compile
#                checks (gcc, clang, C99, C++11), and NEON under qemu-aarch64
#   make bench   the difficulty benchmark sweep against the peers (minutes)
#   make demo    build and run the small demo on embedded data
# Tools missing on a fresh Debian machine are installed by scripts/deps.sh
# (apt-get, as root) or named, with the packages to install, when not root.

CC      ?= cc
CXX     ?= c++
BUILD   ?= build
OPT     ?= -O2
WARN    := -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes
CFLAGS_BASE := -std=c99 $(OPT) -g $(WARN) -I.
OMP     ?= -fopenmp
AARCH64_CC ?= aarch64-linux-gnu-gcc
QEMU_AARCH64 ?= qemu-aarch64 -L /usr/aarch64-linux-gnu

.PHONY: all test bench bench-smoke demo deps clean

all: test-build

deps:
	@sh scripts/deps.sh $(DEPS)

$(BUILD):
	@mkdir -p $(BUILD)

include tests/tests.mk
include bench/bench.mk
include examples/examples.mk

test: deps
	@$(MAKE) --no-print-directory test-all

clean:
	rm -rf $(BUILD)
