# examples/ — small programs on top of hardreid.h (included by the Makefile)

DEMO_ARGS ?= 8000 256 1

$(BUILD)/difficulty_demo: examples/difficulty_demo.c hardreid.h | $(BUILD)
	$(CC) $(CFLAGS_BASE) $(OMP) -o $@ $< $(HR_LIBS)

demo:
	@$(MAKE) --no-print-directory deps DEPS=demo
	@$(MAKE) --no-print-directory $(BUILD)/difficulty_demo $(BUILD)/train
	$(BUILD)/difficulty_demo $(DEMO_ARGS)
	$(BUILD)/train --compare $(TRAIN_DEMO_SAMPLERS) $(TRAIN_DEMO_ARGS)

# ---- the re-ID trainer (examples/train/) ----------------------------------
#   make train        build/train (see build/train --help)
#   make train-smoke  seconds: every sampler, reproducibility, resume,
#                     refused checkpoints, the Market-1501 reader (CI)
# make demo then compares a baseline sampler with a hardness-aware one on
# the embedded data (same network, same seed): TRAIN_DEMO_SAMPLERS picks
# them, TRAIN_DEMO_ARGS passes anything else (e.g. "--steps 100").
TRAIN_SRC = examples/train/train.c examples/train/model.c examples/train/data.c \
            examples/train/market.c examples/train/weights.c
TRAIN_DEMO_SAMPLERS ?= shuffle,uniform-prop,prop
TRAIN_DEMO_ARGS ?=

# make glyphset: the real-image Market-layout set (scripts/glyphset.md) in
# GLYPHSET_DIR, then e.g. build/train --data $(GLYPHSET_DIR)
GLYPHSET_DIR ?= $(BUILD)/glyphset
# make evidence: every sampler and its control on it, EVIDENCE_SEEDS seeds
# (examples/train/evidence.py; a stopped run resumes from its CSV)
EVIDENCE_SEEDS ?= 1,2,3
EVIDENCE_STEPS ?= 1000
EVIDENCE_ARGS ?=

.PHONY: train train-smoke glyphset evidence

# -O3: the elementwise layers (batch norm, ReLU, add) vectorize
$(BUILD)/train: $(TRAIN_SRC) examples/train/train.h hardreid.h | $(BUILD)
	$(CC) $(CFLAGS_BASE) -O3 $(OMP) -o $@ $(TRAIN_SRC) $(HR_LIBS)

train:
	@sh scripts/deps.sh demo
	@$(MAKE) --no-print-directory $(BUILD)/train

train-smoke: train
	sh examples/train/smoke.sh $(BUILD)/train

glyphset:
	@sh scripts/deps.sh glyphset
	@test -f $(GLYPHSET_DIR)/glyphset.tsv || /usr/bin/python3 scripts/make_glyphset.py --out $(GLYPHSET_DIR)

evidence: train glyphset
	python3 examples/train/evidence.py --data $(GLYPHSET_DIR) --seeds $(EVIDENCE_SEEDS) \
	  --steps $(EVIDENCE_STEPS) --bin $(BUILD)/train --out $(BUILD)/evidence.csv $(EVIDENCE_ARGS)

# ==== tools: using hardreid from the outside ================================
#   make cli           $(BUILD)/tools/hardreid-difficulty (+ npy_gen, its
#                      test-input generator)
#   make lib           $(BUILD)/libhardreid.so (the header as a shared library)
#   make install       PREFIX=/usr/local (DESTDIR too): include/hardreid.h,
#                      bin/hardreid-difficulty, lib/libhardreid.so*,
#                      lib/pkgconfig/hardreid.pc, lib/cmake/hardreid/ (the
#                      CMake package: hardreid::hardreid, hardreid::header),
#                      share/man/man1/hardreid-{difficulty,mpi}.1,
#                      share/doc/hardreid/LICENSE
#   make test-tools    CLI bad-file catalogue, Python (ctypes + numpy, and the
#                      PyTorch sampler loop; either missing fails unless
#                      HR_ALLOW_SKIP=1), install into a temp prefix and three
#                      consumers: CMake find_package, pkg-config, header only
#   make docs          docs/API.md from hardreid.h (scripts/api_doc.py)
#   make test-docs     docs/API.md and LICENSE up to date with hardreid.h, the
#                      man pages clean under groff -ww and of hardreid.h's version
# test-tools and test-docs are part of `make test` (test-all below).

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= bin
INCLUDEDIR ?= include
LIBDIR     ?= lib
MANDIR     ?= share/man
DOCDIR     ?= share/doc/hardreid
INSTALL    ?= install
HR_VERSION := $(shell sed -n 's/^\#define HARDREID_VERSION_STRING "\(.*\)"/\1/p' hardreid.h)
# 0.x: every minor release may change the ABI, so the soname carries it
HR_SONAME  := libhardreid.so.$(word 1,$(subst ., ,$(HR_VERSION))).$(word 2,$(subst ., ,$(HR_VERSION)))
TOOLS      := $(BUILD)/tools
CLI        := $(TOOLS)/hardreid-difficulty
NPY_GEN    := $(TOOLS)/npy_gen
HR_LIB     := $(BUILD)/libhardreid.so
# lib/cmake/hardreid back up to the prefix, for a relocatable CMake package
hr_empty    :=
hr_space    := $(hr_empty) $(hr_empty)
HR_CMAKE_UP := $(subst $(hr_space),/,$(foreach d,$(subst /, ,$(LIBDIR)) cmake hardreid,..))
HR_PTR_SIZE := $(shell echo __SIZEOF_POINTER__ | $(CC) -E -P -x c - 2>/dev/null | tail -n 1)
HR_MANS    := docs/man/hardreid-difficulty.1 docs/man/hardreid-mpi.1
# a python3 that can import numpy: Debian's first (python3-numpy), then PATH's
HR_PYTHON  ?= $(firstword $(foreach p,/usr/bin/python3 python3,$(shell $(p) -c 'import numpy' >/dev/null 2>&1 && echo $(p))))

.PHONY: cli lib install test-tools test-cli test-python test-install docs test-docs

test-all: test-tools test-docs

$(TOOLS):
	@mkdir -p $(TOOLS)

$(CLI): examples/hardreid_difficulty.c examples/cli_common.h examples/npy.h hardreid.h | $(TOOLS)
	$(CC) $(CFLAGS_BASE) $(OMP) -o $@ examples/hardreid_difficulty.c $(HR_LIBS)

$(NPY_GEN): examples/npy_gen.c | $(TOOLS)
	$(CC) $(CFLAGS_BASE) -o $@ examples/npy_gen.c $(HR_LIBS)

cli: $(CLI) $(NPY_GEN)

$(HR_LIB): examples/libhardreid.c hardreid.h | $(BUILD)
	$(CC) $(CFLAGS_BASE) $(OMP) -fPIC -shared -Wl,-soname,$(HR_SONAME) -o $@ examples/libhardreid.c $(HR_LIBS)

lib: $(HR_LIB)

# The library is installed as libhardreid.so.X.Y.Z with the soname and the
# plain .so as symlinks, the usual layout for ld and ld.so. Both man pages
# go in (hardreid-mpi's too: the MPI tool is built by make mpi, not here).
HR_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(HR_VERSION)|' -e 's|@SONAME@|$(HR_SONAME)|' \
	  -e 's|@CMAKE_UP@|$(HR_CMAKE_UP)|' -e 's|@SIZEOF_VOID_P@|$(HR_PTR_SIZE)|'
install: $(CLI) $(HR_LIB)
	@test -n "$(HR_VERSION)" || { echo "install: no version in hardreid.h" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/$(BINDIR) $(DESTDIR)$(PREFIX)/$(INCLUDEDIR) \
	  $(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/$(LIBDIR)/cmake/hardreid \
	  $(DESTDIR)$(PREFIX)/$(MANDIR)/man1 $(DESTDIR)$(PREFIX)/$(DOCDIR)
	$(INSTALL) -m 644 hardreid.h $(DESTDIR)$(PREFIX)/$(INCLUDEDIR)/hardreid.h
	$(INSTALL) -m 755 $(CLI) $(DESTDIR)$(PREFIX)/$(BINDIR)/hardreid-difficulty
	$(INSTALL) -m 755 $(HR_LIB) $(DESTDIR)$(PREFIX)/$(LIBDIR)/libhardreid.so.$(HR_VERSION)
	ln -sf libhardreid.so.$(HR_VERSION) $(DESTDIR)$(PREFIX)/$(LIBDIR)/$(HR_SONAME)
	ln -sf $(HR_SONAME) $(DESTDIR)$(PREFIX)/$(LIBDIR)/libhardreid.so
	$(HR_SUBST) examples/hardreid.pc.in > $(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig/hardreid.pc
	$(HR_SUBST) examples/cmake/hardreid-config.cmake.in \
	  > $(DESTDIR)$(PREFIX)/$(LIBDIR)/cmake/hardreid/hardreid-config.cmake
	$(HR_SUBST) examples/cmake/hardreid-config-version.cmake.in \
	  > $(DESTDIR)$(PREFIX)/$(LIBDIR)/cmake/hardreid/hardreid-config-version.cmake
	$(INSTALL) -m 644 $(HR_MANS) $(DESTDIR)$(PREFIX)/$(MANDIR)/man1
	$(INSTALL) -m 644 LICENSE $(DESTDIR)$(PREFIX)/$(DOCDIR)/LICENSE
	@echo "installed hardreid $(HR_VERSION) in $(DESTDIR)$(PREFIX)"

# ---- docs ---------------------------------------------------------------------
# docs/API.md is generated: every HRDEF declaration of hardreid.h with the
# comment before it. After changing the header's API: make docs.
HR_PY3 ?= python3
docs:
	$(HR_PY3) scripts/api_doc.py hardreid.h > docs/API.md.tmp && mv docs/API.md.tmp docs/API.md

test-docs:
	@echo "== docs: API.md, LICENSE, man pages =="
	@$(HR_PY3) scripts/api_doc.py hardreid.h | cmp -s - docs/API.md || \
	  { echo "docs/API.md is out of date with hardreid.h: run make docs"; exit 1; }
	@tail -n $$(($$(wc -l < LICENSE) + 1)) hardreid.h | sed '$$d' | cmp -s - LICENSE || \
	  { echo "LICENSE differs from the license at the end of hardreid.h"; exit 1; }
	@command -v groff >/dev/null 2>&1 || { sh scripts/missing.sh "groff (the man page check)" \
	  "apt-get install groff-base"; exit $$?; }; \
	for m in $(HR_MANS); do \
	  w=$$(groff -man -Tutf8 -ww -z $$m 2>&1); \
	  [ -z "$$w" ] || { echo "$$m: groff warns:"; echo "$$w"; exit 1; }; \
	  grep -q '^\.TH .* "hardreid $(HR_VERSION)"' $$m || \
	    { echo "$$m: .TH does not say hardreid $(HR_VERSION) (hardreid.h's version)"; exit 1; }; \
	done
	@echo "docs: ok"

# ---- tests --------------------------------------------------------------------
test-tools: test-cli test-python test-install

test-cli: $(CLI) $(NPY_GEN)
	@echo "== CLI: layouts, worked example, bad-file catalogue =="
	@sh tests/tools_test.sh $(CLI) $(NPY_GEN) $(TOOLS)/cli_test

test-python: $(HR_LIB) $(BUILD)/train
	@echo "== Python (ctypes + numpy) =="
	@if [ -z "$(HR_PYTHON)" ]; then \
	  sh scripts/missing.sh "a python3 with numpy (the Python tests)" "apt-get install python3-numpy python3-torch" || exit 1; \
	else \
	  HARDREID_LIB=$(HR_LIB) $(HR_PYTHON) examples/python/test_hardreid.py || exit 1; \
	  HARDREID_LIB=$(HR_LIB) $(HR_PYTHON) examples/python/torch_loop.py --steps 12 --refresh 4 --check || exit 1; \
	  if $(HR_PYTHON) -c 'import torch' 2>/dev/null; then \
	    sh examples/python/check_steps.sh $(BUILD)/train $(HR_PYTHON) || exit 1; \
	  else echo "check_steps: skipped (no torch for $(HR_PYTHON))"; fi; \
	fi

test-install: $(CLI) $(HR_LIB)
	@echo "== install into a temporary prefix; CMake, pkg-config, header-only consumers =="
	@sh tests/install_test.sh "$(MAKE)" $(TOOLS)/install_test "$(CC)"
