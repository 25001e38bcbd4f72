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

# ==== hardening: sanitizers, valgrind, allocation failure, fuzzing ==========
#   make test-asan      the Criterion suite (TEST_SRCS) under ASan; the same
#                       sources in one process (mini harness) for LeakSanitizer;
#                       tests/alloc_fail.c under ASan
#   make test-ubsan     the Criterion suite under UBSan, -fno-sanitize-recover=all
#   make test-valgrind  memcheck of the difficulty demo, the CLI (good and bad
#                       files) and the trainer (save/resume, samplers, Market
#                       data, refusals), small and with a team
#   make test-tsan      the suite under ThreadSanitizer (clang, LLVM's libomp
#                       with its Archer tool), after a canary race it must see
#   make test-alloc     allocation failure and size limits (tests/alloc_fail.c);
#                       part of make test
#   make fuzz-build     the libFuzzer harnesses tests/fuzz/fuzz_*.c (clang)
#   make fuzz           each harness FUZZ_TIME seconds (default 60) from its
#                       seed corpus tests/fuzz/corpus/NAME; the corpus grows in
#                       $(BUILD)/hardening/corpus/NAME, crashes land in
#                       $(BUILD)/hardening/artifacts/
#   make fuzz-repro     the reproducers of the fuzzers' findings,
#                       tests/fuzz/repro/*.c, kept as regression checks
#                       ("fixed" or "still present"; not part of CI)
# Everything lands in $(BUILD)/hardening.

HB        := $(BUILD)/hardening
# ASan: clang (libomp). Either compiler works: no false positives from the
# OpenMP runtimes, which are not instrumented.
ASAN_CC   ?= $(HR_CLANG)
# UBSan: clang, the stricter one (its pointer-overflow check also flags
# NULL + 0: tests/fuzz/repro/null_w_zero_width.c); UBSAN_CC=gcc works too.
UBSAN_CC  ?= $(HR_CLANG)
FUZZ_CC   ?= $(HR_CLANG)
FUZZ_TIME ?= 60
# libraries the header needs (the Makefile sets HR_LIBS; this is a fallback)
HR_LIBS   ?= -lm
# With OpenMP on purpose: the suite's thread-invariance tests then run teams
# of 2-4 threads, so the sanitizers see the per-thread workspaces and the
# merge. Criterion forks each test from its runner, which never started a
# team, so fork + OpenMP is safe. (TSan: see test-tsan below.)
SAN_CFLAGS := -std=c99 $(OPT) -g -fno-omit-frame-pointer $(WARN) -I. $(OMP)
ASAN_FLAGS := -fsanitize=address
UBSAN_FLAGS := -fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=all
# Every shape runs (no HR_TEST_QUICK). Not in the leak run either: under
# HR_TEST_QUICK test_difficulty.c's sweep skips a shape after allocating
# its rows (a test leak LeakSanitizer reports).
LSAN_TEST_FLAGS := -DHR_TEST_MINI
# one object per source, compiled HR_JOBS at a time (the suite is large)
HR_JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
HR_TEST_HDRS := tests/harness.h hardreid.h
# object folders named by compiler, so UBSAN_CC=gcc does not reuse clang's
ASAN_DIR  := $(HB)/asan-$(notdir $(ASAN_CC))
LSAN_DIR  := $(HB)/lsan-$(notdir $(ASAN_CC))
UBSAN_DIR := $(HB)/ubsan-$(notdir $(UBSAN_CC))
# ThreadSanitizer. An OpenMP runtime that TSan cannot see synchronize makes
# the start and end of every parallel region a "race" (gcc's libgomp: two
# reports on a race-free 10-line program; LLVM's libomp alone: 92 in the
# difficulty suite, each a write in the team and a read after it). LLVM's
# libomp loads its Archer tool (libarcher.so, Debian libomp-dev) into a
# TSan-built program and tells TSan about its barriers, tasks and locks:
# then the suite reports nothing, and a canary race (tests/test_errors.c,
# HR_TSAN_CANARY) is reported. Criterion cannot start under TSan ("Could
# not initialize inheritable arena"), so the suite runs in one process under
# the mini harness (HR_TEST_MINI), as the NEON build does.
TSAN_CC   ?= $(HR_CLANG)
TSAN_DIR  := $(HB)/tsan-$(notdir $(TSAN_CC))
TSAN_FLAGS := -fsanitize=thread -DHR_TEST_MINI
TSAN_ENV  := TSAN_OPTIONS=ignore_noninstrumented_modules=1 ARCHER_OPTIONS=verbose=1
FUZZ_CFLAGS := -std=c99 -O1 -g $(WARN) -I. -Itests/fuzz \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_NAMES := alias neighbors ids weights npy market market_dir ckpt conv
# harnesses that link more than their own file (fuzz_ckpt includes the
# trainer's train.c; the rest of the trainer beside it; fuzz_market_dir
# includes market.c and links data.c for rd_free)
FUZZ_EXTRA_ckpt := examples/train/data.c examples/train/model.c examples/train/market.c \
                   examples/train/weights.c
FUZZ_EXTRA_market_dir := examples/train/data.c
# fuzz_market_dir: UBSan findings inside stb (not the code under test) that
# do no harm are waived there, each with its reason
FUZZ_FLAGS_market_dir := -fsanitize-ignorelist=tests/fuzz/stb.ignorelist
FUZZ_BINS  := $(FUZZ_NAMES:%=$(HB)/fuzz_%)
# the demo under memcheck: small (one thread), then a team (>= 1e6 pairs)
VALGRIND_ARGS ?= 300 32 7
VALGRIND_TEAM_ARGS ?= 1500 16 7
# possibly-lost excluded: libgomp's pool threads are never joined, so their
# TLS blocks show as "possibly lost" at exit. Exit status 99 for a memcheck
# error or leak, so that a tool's own exit status 1 (a refused file) stays
# distinguishable from it.
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full \
            --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
VG_DIR := $(HB)/valgrind
# the trainer at a size memcheck runs in seconds (16x8 images, 8 identities)
VG_TRAIN := --size 16x8 --emb 8 --ids-train 8 --ids-test 4 --imgs 4 --cams 2 --distractors 4 \
            --P 4 --K 2 --quiet
# VG_REFUSE(what, command): the command must exit 1 (refused) with no
# memcheck error (99) or crash
VG_REFUSE = rc=0; $(2) > $(VG_DIR)/refuse.log 2>&1 || rc=$$?; \
	if [ $$rc != 1 ]; then cat $(VG_DIR)/refuse.log; \
	  echo "valgrind: $(1): exit status $$rc (want 1; 99: a memcheck error)"; exit 1; fi; \
	echo "  refused, memcheck clean: $(1)"

.PHONY: test-asan test-ubsan test-tsan test-valgrind test-alloc fuzz fuzz-build fuzz-repro \
        hr-test-asan hr-test-ubsan hr-test-tsan hr-test-valgrind hr-fuzz hr-fuzz-build \
        hr-fuzz-repro hr-test-asan-build hr-test-ubsan-build hr-test-tsan-build

test-all: test-alloc

# deps first (apt-get as root, else the command to run), then the work (the
# group has the trainer's libstb-dev: valgrind and the fuzzers build it)
test-asan test-ubsan test-tsan test-valgrind fuzz fuzz-build fuzz-repro:
	@sh scripts/deps.sh hardening
	@$(MAKE) --no-print-directory hr-$@

$(HB):
	@mkdir -p $(HB)

HR_CRITERION_CHECK = @echo 'int main(void){return 0;}' | $(1) -x c - -o /dev/null -lcriterion \
	2>/dev/null || { echo "Criterion not found for $(1): install libcriterion-dev"; exit 1; }

# ---- sanitizers ----------------------------------------------------------------
$(ASAN_DIR)/%.o: tests/%.c $(HR_TEST_HDRS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(SAN_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<
$(LSAN_DIR)/%.o: tests/%.c $(HR_TEST_HDRS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(SAN_CFLAGS) $(ASAN_FLAGS) $(LSAN_TEST_FLAGS) -c -o $@ $<
$(UBSAN_DIR)/%.o: tests/%.c $(HR_TEST_HDRS)
	@mkdir -p $(@D)
	$(UBSAN_CC) $(SAN_CFLAGS) $(UBSAN_FLAGS) -c -o $@ $<

$(HB)/tests-asan: $(TEST_SRCS:tests/%.c=$(ASAN_DIR)/%.o) | $(HB)
	$(call HR_CRITERION_CHECK,$(ASAN_CC))
	$(ASAN_CC) $(SAN_CFLAGS) $(ASAN_FLAGS) -o $@ $^ -lcriterion $(HR_LIBS)
# Criterion's workers end without LeakSanitizer's exit check, so leaks are
# looked for in one process: the same sources under the mini harness
$(HB)/tests-lsan: $(TEST_SRCS:tests/%.c=$(LSAN_DIR)/%.o) | $(HB)
	$(ASAN_CC) $(SAN_CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(HR_LIBS)
$(HB)/alloc_fail-asan: tests/alloc_fail.c hardreid.h | $(HB)
	$(ASAN_CC) $(SAN_CFLAGS) $(ASAN_FLAGS) -o $@ tests/alloc_fail.c $(HR_LIBS)
$(HB)/tests-ubsan: $(TEST_SRCS:tests/%.c=$(UBSAN_DIR)/%.o) | $(HB)
	$(call HR_CRITERION_CHECK,$(UBSAN_CC))
	$(UBSAN_CC) $(SAN_CFLAGS) $(UBSAN_FLAGS) -o $@ $^ -lcriterion $(HR_LIBS)

$(TSAN_DIR)/%.o: tests/%.c $(HR_TEST_HDRS)
	@mkdir -p $(@D)
	$(TSAN_CC) $(SAN_CFLAGS) $(TSAN_FLAGS) -c -o $@ $<
$(TSAN_DIR)/canary.o: tests/test_errors.c $(HR_TEST_HDRS)
	@mkdir -p $(@D)
	$(TSAN_CC) $(SAN_CFLAGS) $(TSAN_FLAGS) -DHR_TSAN_CANARY -c -o $@ $<
$(HB)/tests-tsan: $(TEST_SRCS:tests/%.c=$(TSAN_DIR)/%.o) | $(HB)
	$(TSAN_CC) $(SAN_CFLAGS) $(TSAN_FLAGS) -o $@ $^ $(HR_LIBS)
$(HB)/tsan-canary: $(TSAN_DIR)/impl.o $(TSAN_DIR)/canary.o | $(HB)
	$(TSAN_CC) $(SAN_CFLAGS) $(TSAN_FLAGS) -o $@ $^ $(HR_LIBS)

hr-test-asan-build: $(HB)/tests-asan $(HB)/tests-lsan $(HB)/alloc_fail-asan
hr-test-ubsan-build: $(HB)/tests-ubsan
hr-test-tsan-build: $(HB)/tests-tsan $(HB)/tsan-canary

hr-test-asan:
	@$(MAKE) --no-print-directory -j$(HR_JOBS) hr-test-asan-build
	@echo "== ASan: Criterion suite =="
	@t0=$$(date +%s); ASAN_OPTIONS=detect_leaks=0 $(HB)/tests-asan || exit 1; \
	  echo "ASan suite: $$(( $$(date +%s) - t0 )) s"
	@echo "== ASan + LeakSanitizer: the suite in one process =="
	@t0=$$(date +%s); ASAN_OPTIONS=detect_leaks=1 $(HB)/tests-lsan > $(HB)/tests-lsan.log 2>&1 || \
	  { tail -n 60 $(HB)/tests-lsan.log; exit 1; }; tail -n 1 $(HB)/tests-lsan.log; \
	  echo "LSan suite: $$(( $$(date +%s) - t0 )) s"
	@echo "== ASan: allocation failure =="
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 $(HB)/alloc_fail-asan > $(HB)/alloc_fail-asan.log 2>&1 || \
	  { cat $(HB)/alloc_fail-asan.log; exit 1; }; tail -n 1 $(HB)/alloc_fail-asan.log

hr-test-ubsan:
	@$(MAKE) --no-print-directory -j$(HR_JOBS) hr-test-ubsan-build
	@echo "== UBSan ($(UBSAN_CC)): Criterion suite =="
	@t0=$$(date +%s); UBSAN_OPTIONS=print_stacktrace=1 $(HB)/tests-ubsan || exit 1; \
	  echo "UBSan suite: $$(( $$(date +%s) - t0 )) s"

# The canary first: it must be reported (else the suite's silence means
# nothing), and Archer must be loaded in both runs.
hr-test-tsan:
	@$(MAKE) --no-print-directory -j$(HR_JOBS) hr-test-tsan-build
	@echo "== TSan ($(TSAN_CC), libomp + Archer): canary race =="
	@rc=0; $(TSAN_ENV) $(HB)/tsan-canary tsan::canary > $(HB)/tsan-canary.log 2>&1 || rc=$$?; \
	if ! grep -q 'Archer detected OpenMP application with TSan' $(HB)/tsan-canary.log; then \
	  cat $(HB)/tsan-canary.log; echo "test-tsan: Archer (libarcher.so, Debian libomp-dev) not loaded:" \
	    "the OpenMP runtime's synchronization would show as races"; exit 1; fi; \
	if [ $$rc = 0 ] || ! grep -q 'WARNING: ThreadSanitizer: data race' $(HB)/tsan-canary.log; then \
	  cat $(HB)/tsan-canary.log; echo "test-tsan: the canary race was not reported (exit $$rc)"; exit 1; fi; \
	echo "  reported, as it must be: $$(grep -m1 'SUMMARY: ThreadSanitizer' $(HB)/tsan-canary.log)"
	@echo "== TSan: the suite in one process (mini harness) =="
	@t0=$$(date +%s); $(TSAN_ENV) $(HB)/tests-tsan > $(HB)/tests-tsan.log 2>&1 || \
	  { grep -B2 -A30 'WARNING: ThreadSanitizer' $(HB)/tests-tsan.log | head -n 80; tail -n 3 $(HB)/tests-tsan.log; \
	    echo "test-tsan: FAILED (log: $(HB)/tests-tsan.log)"; exit 1; }; \
	grep -q 'Archer detected' $(HB)/tests-tsan.log || { echo "test-tsan: Archer not loaded"; exit 1; }; \
	tail -n 1 $(HB)/tests-tsan.log; echo "TSan suite: no reports, $$(( $$(date +%s) - t0 )) s"

# ---- valgrind ---------------------------------------------------------------------
# The demo; the CLI on a good file (top-k, CSV; a team) and on bad ones; the
# trainer: a run saved halfway and resumed on a team, the samplers, Market
# data read with a bad image skipped, and refusals (exit 1, memcheck clean).
hr-test-valgrind:
	@$(MAKE) --no-print-directory $(BUILD)/difficulty_demo $(CLI) $(NPY_GEN) $(BUILD)/train
	@t0=$$(date +%s); rm -rf $(VG_DIR) && mkdir -p $(VG_DIR); \
	echo "== valgrind memcheck: difficulty_demo $(VALGRIND_ARGS) =="; \
	$(VALGRIND) $(BUILD)/difficulty_demo $(VALGRIND_ARGS) > /dev/null || exit 1; \
	echo "== valgrind memcheck: difficulty_demo $(VALGRIND_TEAM_ARGS), 2 threads =="; \
	OMP_NUM_THREADS=2 $(VALGRIND) $(BUILD)/difficulty_demo $(VALGRIND_TEAM_ARGS) > /dev/null || exit 1; \
	echo "== valgrind memcheck: hardreid-difficulty =="; \
	$(NPY_GEN) --twins 4 --seed 7 300 32 $(VG_DIR)/w.npy && \
	$(VALGRIND) $(CLI) --topk 3 --csv $(VG_DIR)/w.csv $(VG_DIR)/w.npy 2> /dev/null || exit 1; \
	echo "  300 x 32, --topk 3 --csv: clean"; \
	$(NPY_GEN) --f8 --fortran --big-endian --seed 3 1500 16 $(VG_DIR)/team.npy && \
	OMP_NUM_THREADS=2 $(VALGRIND) $(CLI) -q --prefix $(VG_DIR)/team $(VG_DIR)/team.npy || exit 1; \
	echo "  1500 x 16 (>f8, Fortran order), 2 threads: clean"; \
	head -c 1000 $(VG_DIR)/w.npy > $(VG_DIR)/cut.npy; \
	$(NPY_GEN) --nan 17 3 30 8 $(VG_DIR)/nan.npy; \
	$(NPY_GEN) --shape '(30, 8' 30 8 $(VG_DIR)/syntax.npy; \
	$(NPY_GEN) --shape '(4611686018427387904, 4611686018427387904)' 30 8 $(VG_DIR)/overflow.npy; \
	$(NPY_GEN) --descr '<i4' 30 8 $(VG_DIR)/int32.npy; \
	for f in cut nan syntax overflow int32; do \
	  $(call VG_REFUSE,hardreid-difficulty $$f.npy,$(VALGRIND) $(CLI) -q --topk 2 $(VG_DIR)/$$f.npy); \
	done; \
	echo "== valgrind memcheck: build/train =="; \
	$(VALGRIND) $(BUILD)/train $(VG_TRAIN) --steps 2 --stop-at 1 --threads 1 --sampler hardpk \
	  --head arc --save $(VG_DIR)/half.ckpt > /dev/null || exit 1; \
	echo "  res, hardpk, arc: 1 of 2 steps, saved: clean"; \
	$(VALGRIND) $(BUILD)/train $(VG_TRAIN) --steps 2 --threads 2 --sampler hardpk --head arc \
	  --resume $(VG_DIR)/half.ckpt > /dev/null || exit 1; \
	echo "  resumed on 2 threads: clean"; \
	$(VALGRIND) $(BUILD)/train $(VG_TRAIN) --net shuffle --steps 2 --threads 1 --opt adam \
	  --head sphere --compare hard,prop,shuffle > /dev/null || exit 1; \
	echo "  shuffle net, adam, sphere, samplers hard, prop, shuffle: clean"; \
	$(BUILD)/train $(VG_TRAIN) --export $(VG_DIR)/market > /dev/null || exit 1; \
	echo 'not an image' > $(VG_DIR)/market/query/0003_c2s1_000999_00.png; \
	$(VALGRIND) $(BUILD)/train $(VG_TRAIN) --net mobile --steps 2 --threads 1 --head cos \
	  --data $(VG_DIR)/market --skip-bad > /dev/null 2>&1 || exit 1; \
	echo "  mobile net, Market-1501 directory, a bad image skipped: clean"; \
	$(call VG_REFUSE,train --data with a bad image,$(VALGRIND) $(BUILD)/train $(VG_TRAIN) --steps 2 --data $(VG_DIR)/market); \
	cp $(VG_DIR)/half.ckpt $(VG_DIR)/bad.ckpt; printf X | dd of=$(VG_DIR)/bad.ckpt bs=1 seek=300 conv=notrunc 2>/dev/null; \
	$(call VG_REFUSE,train --resume a corrupt checkpoint,$(VALGRIND) $(BUILD)/train $(VG_TRAIN) --steps 2 --sampler hardpk --head arc --resume $(VG_DIR)/bad.ckpt); \
	echo "valgrind: clean ($$(( $$(date +%s) - t0 )) s)"

# ---- allocation failure and size limits (part of make test) -------------------------
# needs only what the demo needs (the C compiler, OpenMP for the team case)
$(HB)/alloc_fail: tests/alloc_fail.c hardreid.h | $(HB)
	$(CC) $(CFLAGS_BASE) $(OMP) -o $@ tests/alloc_fail.c $(HR_LIBS)

test-alloc:
	@sh scripts/deps.sh demo
	@$(MAKE) --no-print-directory $(HB)/alloc_fail
	@echo "== allocation failure and size limits =="
	$(HB)/alloc_fail

# ---- fuzzing ------------------------------------------------------------------------
$(HB)/fuzz_npy: examples/npy.h
$(HB)/fuzz_market: examples/train/market.c examples/train/train.h
$(HB)/fuzz_market_dir: examples/train/market.c examples/train/train.h examples/train/data.c \
                       tests/fuzz/stb.ignorelist
$(HB)/fuzz_ckpt: examples/train/train.c examples/train/train.h $(FUZZ_EXTRA_ckpt)
$(HB)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h hardreid.h | $(HB)
	@echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' | \
	  $(FUZZ_CC) -x c - -fsanitize=fuzzer -o /dev/null 2>/dev/null || { echo \
	  "$(FUZZ_CC) cannot link libFuzzer: install clang and libclang-rt-dev"; exit 1; }
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_FLAGS_$*) -o $@ $< $(FUZZ_EXTRA_$*) $(HR_LIBS)

hr-fuzz-build: $(FUZZ_BINS)

# One harness after the other; a crash stops make with the input saved.
hr-fuzz: $(FUZZ_BINS)
	@mkdir -p $(HB)/artifacts
	@for h in $(FUZZ_NAMES); do \
	  mkdir -p $(HB)/corpus/$$h; \
	  echo "== fuzz $$h: $(FUZZ_TIME) s =="; \
	  $(HB)/fuzz_$$h -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	    -artifact_prefix=$(HB)/artifacts/$$h- $(HB)/corpus/$$h tests/fuzz/corpus/$$h \
	    > $(HB)/fuzz_$$h.log 2>&1 || { tail -n 50 $(HB)/fuzz_$$h.log; \
	    echo "fuzz $$h: FAILED (input in $(HB)/artifacts/)"; exit 1; }; \
	  grep -E '^Done [0-9]+ runs' $(HB)/fuzz_$$h.log; \
	  grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' $(HB)/fuzz_$$h.log | tail -n 1; \
	done

# ---- reproducers of open findings ---------------------------------------------------
# built with UBSan (one finding is undefined behaviour); exit status 0 = fixed
HR_REPROS := $(patsubst tests/fuzz/repro/%.c,$(HB)/repro_%,$(wildcard tests/fuzz/repro/*.c))
$(HB)/repro_%: tests/fuzz/repro/%.c hardreid.h | $(HB)
	$(FUZZ_CC) -std=c99 $(OPT) -g -I. -fsanitize=undefined -fno-sanitize-recover=all \
	  -o $@ $< $(HR_LIBS)

hr-fuzz-repro: $(HR_REPROS)
	@for r in $(HR_REPROS); do echo "== $$r"; \
	  if $$r; then echo "$$r: fixed"; else echo "$$r: still present"; fi; done
