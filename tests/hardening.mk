# tests/hardening.mk - sanitizers, valgrind, allocation failure, fuzzing.
# Included by the Makefile (CC, CXX, BUILD, OPT, WARN, CFLAGS_BASE, OMP come
# from there; TEST_SRCS, TEST_DEPS, HR_CLANG from tests/tests.mk).
#   make test-asan      the Criterion suite (TEST_SRCS) under ASan; the same
#                       sources in one process (mini harness) for LeakSanitizer;
#                       tests/alloc_fail.c under ASan
#   make test-ubsan     the Criterion suite under UBSan, -fno-sanitize-recover=all
#   make test-valgrind  memcheck of the difficulty demo, small and with a team
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
# team, so fork + OpenMP is safe. (TSan would need an instrumented OpenMP
# runtime; not attempted.)
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
FUZZ_CFLAGS := -std=c99 -O1 -g $(WARN) -I. -Itests/fuzz \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_NAMES := alias neighbors ids weights npy market ckpt
# harnesses that link more than their own file (fuzz_ckpt includes the
# trainer's train.c; the rest of the trainer beside it)
FUZZ_EXTRA_ckpt := examples/train/data.c examples/train/model.c examples/train/market.c
FUZZ_BINS  := $(FUZZ_NAMES:%=$(HB)/fuzz_%)
# the demo under memcheck: small (one thread), then a team (>= 1e6 pairs)
VALGRIND_ARGS ?= 300 32 7
VALGRIND_TEAM_ARGS ?= 1500 16 7
# possibly-lost excluded: libgomp's pool threads are never joined, so their
# TLS blocks show as "possibly lost" at exit
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full \
            --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect

.PHONY: test-asan test-ubsan test-valgrind test-alloc fuzz fuzz-build fuzz-repro \
        hr-test-asan hr-test-ubsan hr-test-valgrind hr-fuzz hr-fuzz-build hr-fuzz-repro \
        hr-test-asan-build hr-test-ubsan-build

test-all: test-alloc

# deps first (apt-get as root, else the command to run), then the work
test-asan test-ubsan test-valgrind fuzz fuzz-build fuzz-repro:
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

hr-test-asan-build: $(HB)/tests-asan $(HB)/tests-lsan $(HB)/alloc_fail-asan
hr-test-ubsan-build: $(HB)/tests-ubsan

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

# ---- valgrind ---------------------------------------------------------------------
hr-test-valgrind:
	@$(MAKE) --no-print-directory $(BUILD)/difficulty_demo
	@echo "== valgrind memcheck: difficulty_demo $(VALGRIND_ARGS) =="
	$(VALGRIND) $(BUILD)/difficulty_demo $(VALGRIND_ARGS) > /dev/null
	@echo "== valgrind memcheck: difficulty_demo $(VALGRIND_TEAM_ARGS), 2 threads =="
	OMP_NUM_THREADS=2 $(VALGRIND) $(BUILD)/difficulty_demo $(VALGRIND_TEAM_ARGS) > /dev/null
	@echo "valgrind: clean"

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
$(HB)/fuzz_ckpt: examples/train/train.c examples/train/train.h $(FUZZ_EXTRA_ckpt)
$(HB)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h hardreid.h | $(HB)
	@echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' | \
	  $(FUZZ_CC) -x c - -fsanitize=fuzzer -o /dev/null 2>/dev/null || { echo \
	  "$(FUZZ_CC) cannot link libFuzzer: install clang and libclang-rt-dev"; exit 1; }
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_EXTRA_$*) $(HR_LIBS)

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
