# tests/tests.mk - included by the Makefile (CC, CXX, BUILD, OPT, WARN,
# CFLAGS_BASE, OMP, AARCH64_CC, QEMU_AARCH64 come from there).
#   make test-all      test-compile + test-x86 + test-neon
#   make test-x86      Criterion suite, every x86 ISA path (scalar, AVX2)
#   make test-compile  the header under strict C99/C++11 with gcc and clang,
#                      -mavx2 -mfma, -DHR_NO_SIMD, HR_FORCE_ISA, HARDREID_STATIC
#   make test-neon     the same suite cross-built for AArch64, run under qemu
#                      (mini harness: Criterion's runner hangs under qemu)

# every tests/test_*.c is a suite (test_core, test_difficulty, test_sampling, ...)
TEST_SRCS  := tests/impl.c $(sort $(wildcard tests/test_*.c))
TEST_DEPS  := $(TEST_SRCS) tests/harness.h hardreid.h
HR_CSTRICT := -std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -Wstrict-prototypes
HR_XSTRICT := -std=c++11 -Wall -Wextra -pedantic -Werror -Wshadow
HR_CLANG   ?= clang
HR_CLANGXX ?= clang++
# qemu is 10-30x slower: HR_TEST_QUICK drops the largest sweep shape.
# -static: under qemu-user here, a dynamically linked AArch64 glibc program
# hangs in its first pthread_create or fork (OpenMP teams included); static
# ones run. libgomp.a's link warning about dlopen is harmless.
NEON_CFLAGS := -std=c99 $(OPT) -g $(WARN) -I. -DHR_TEST_MINI -DHR_TEST_QUICK -DHR_NO_SLEEF $(OMP)
NEON_LDFLAGS := -static
HR_IS_X86  := $(filter x86_64% amd64%,$(shell $(CC) -dumpmachine 2>/dev/null))

.PHONY: test-all test-build test-x86 test-compile test-neon

test-all: test-compile test-x86 test-neon

test-build: $(BUILD)/tests $(BUILD)/compile_c99 $(BUILD)/compile_cpp \
            $(BUILD)/static_link

# ---- x86: Criterion ---------------------------------------------------------
$(BUILD)/tests: $(TEST_DEPS) | $(BUILD)
	@echo 'int main(void){return 0;}' | $(CC) -x c - -o /dev/null -lcriterion \
	  2>/dev/null || { echo "Criterion (headers + library) not found for $(CC):" \
	  "install the Debian package libcriterion-dev"; exit 1; }
	$(CC) $(CFLAGS_BASE) $(OMP) -o $@ $(TEST_SRCS) -lcriterion $(HR_LIBS)

test-x86: $(BUILD)/tests
	@echo "== x86 tests (Criterion; every supported ISA) =="
	@t0=$$(date +%s); $(BUILD)/tests || exit 1; \
	  echo "x86 tests: $$(( $$(date +%s) - t0 )) s"
	@echo "== x86 tests, suite core, HR_ISA=scalar (environment override) =="
	HR_ISA=scalar $(BUILD)/tests --filter 'core/*'

# ---- header compile checks ---------------------------------------------------
$(BUILD)/compile_c99: tests/compile_c99.c hardreid.h | $(BUILD)
	$(CC) $(HR_CSTRICT) $(OPT) -I. -o $@ $< $(HR_LIBS)
$(BUILD)/compile_cpp: tests/compile_cpp.cpp hardreid.h | $(BUILD)
	$(CXX) $(HR_XSTRICT) $(OPT) -I. -o $@ $< $(HR_LIBS)
$(BUILD)/static_link: tests/static_a.c tests/static_b.c hardreid.h | $(BUILD)
	$(CC) $(HR_CSTRICT) $(OPT) -I. -o $@ tests/static_a.c tests/static_b.c $(HR_LIBS)

test-compile: $(BUILD)/compile_c99 $(BUILD)/compile_cpp $(BUILD)/static_link
	@echo "== header compile checks =="
	$(BUILD)/compile_c99
	$(BUILD)/compile_cpp
	$(BUILD)/static_link
	$(CC) $(HR_CSTRICT) $(OPT) $(OMP) -I. -o $(BUILD)/compile_c99_omp tests/compile_c99.c $(HR_LIBS)
	$(BUILD)/compile_c99_omp
	$(CC) $(HR_CSTRICT) $(OPT) -DHR_NO_SIMD -I. -o $(BUILD)/compile_c99_nosimd tests/compile_c99.c $(HR_LIBS)
	$(BUILD)/compile_c99_nosimd
	$(CC) $(HR_CSTRICT) $(OPT) -DHR_FORCE_ISA=HR_ISA_SCALAR -I. -o $(BUILD)/compile_c99_force tests/compile_c99.c $(HR_LIBS)
	env -u HR_ISA $(BUILD)/compile_c99_force
ifneq ($(HR_IS_X86),)
	$(CC) $(HR_CSTRICT) $(OPT) -mavx2 -mfma -I. -o $(BUILD)/compile_c99_avx2 tests/compile_c99.c $(HR_LIBS)
	@if grep -q avx2 /proc/cpuinfo 2>/dev/null; then $(BUILD)/compile_c99_avx2; \
	  else echo "CPU lacks AVX2: built, not run"; fi
endif
	@if command -v $(HR_CLANG) >/dev/null 2>&1; then \
	  echo "$(HR_CLANG) $(HR_CSTRICT) $(OPT) tests/compile_c99.c"; \
	  $(HR_CLANG) $(HR_CSTRICT) $(OPT) -I. -o $(BUILD)/compile_c99_clang tests/compile_c99.c $(HR_LIBS) && \
	  $(BUILD)/compile_c99_clang && \
	  $(HR_CLANG) $(HR_CSTRICT) $(OPT) -I. -o $(BUILD)/static_link_clang tests/static_a.c tests/static_b.c $(HR_LIBS) && \
	  $(BUILD)/static_link_clang || exit 1; \
	else sh scripts/missing.sh "$(HR_CLANG) (the clang C check)" "apt-get install clang" || exit 1; fi
	@if command -v $(HR_CLANGXX) >/dev/null 2>&1; then \
	  echo "$(HR_CLANGXX) $(HR_XSTRICT) $(OPT) tests/compile_cpp.cpp"; \
	  $(HR_CLANGXX) $(HR_XSTRICT) $(OPT) -I. -o $(BUILD)/compile_cpp_clang tests/compile_cpp.cpp $(HR_LIBS) && \
	  $(BUILD)/compile_cpp_clang || exit 1; \
	else sh scripts/missing.sh "$(HR_CLANGXX) (the clang C++ check)" "apt-get install clang" || exit 1; fi
	@echo "header compile checks: ok"

# ---- NEON: cross-compiled, run under qemu-aarch64 ----------------------------
HR_NEON_MISSING = echo "test-neon needs $(1): install the Debian packages" \
	"gcc-aarch64-linux-gnu qemu-user"; exit 1

$(BUILD)/tests-neon: $(TEST_DEPS) | $(BUILD)
	@command -v $(AARCH64_CC) >/dev/null 2>&1 || { $(call HR_NEON_MISSING,$(AARCH64_CC)); }
	$(AARCH64_CC) $(NEON_CFLAGS) -o $@ $(TEST_SRCS) $(NEON_LDFLAGS) -lm
$(BUILD)/compile_c99-neon: tests/compile_c99.c hardreid.h | $(BUILD)
	@command -v $(AARCH64_CC) >/dev/null 2>&1 || { $(call HR_NEON_MISSING,$(AARCH64_CC)); }
	$(AARCH64_CC) $(HR_CSTRICT) $(OPT) -DHR_NO_SLEEF -I. -o $@ $< $(NEON_LDFLAGS) -lm

# The SLEEF path of the NEON kernels (the heads' expf): libsleef has no
# static archive in Debian, so this binary is dynamic, and built without
# OpenMP (dynamic programs only hang at their first thread under qemu).
$(BUILD)/tests-neon-sleef: $(TEST_DEPS) | $(BUILD)
	@command -v $(AARCH64_CC) >/dev/null 2>&1 || { $(call HR_NEON_MISSING,$(AARCH64_CC)); }
	$(AARCH64_CC) -std=c99 $(OPT) -g $(WARN) -I. -DHR_SLEEF_STRONG -DHR_TEST_MINI -DHR_TEST_QUICK -o $@ \
	  $(TEST_SRCS) -lsleef -lm

test-neon: $(BUILD)/tests-neon $(BUILD)/compile_c99-neon $(BUILD)/tests-neon-sleef
	@command -v $(firstword $(QEMU_AARCH64)) >/dev/null 2>&1 || \
	  { $(call HR_NEON_MISSING,$(firstword $(QEMU_AARCH64))); }
	@echo "== NEON tests under qemu-aarch64 (mini harness, HR_TEST_QUICK) =="
	$(QEMU_AARCH64) $(BUILD)/compile_c99-neon
	@t0=$$(date +%s); $(QEMU_AARCH64) $(BUILD)/tests-neon || exit 1; \
	  echo "NEON tests under qemu: $$(( $$(date +%s) - t0 )) s"
	@echo "== NEON + SLEEF (dynamic, one thread): suite heads =="
	$(QEMU_AARCH64) $(BUILD)/tests-neon-sleef heads

# ---- mutation check: on demand, NOT part of test-all ------------------------
# scripts/mutants.sh applies each sampler mutant of issue 17 (masses
# truncated, coin compare <=, a non-proportional exact fallback; the
# compare in each SIMD batched draw) to a copy of hardreid.h and expects
# tests/test_sampler_exact.c to fail on it, after passing on the unmutated
# header. It fails loudly if a mutant's pattern is no longer in the header.
.PHONY: test-mutants
test-mutants:
	CC="$(CC)" AARCH64_CC="$(AARCH64_CC)" QEMU_AARCH64="$(QEMU_AARCH64)" bash scripts/mutants.sh
