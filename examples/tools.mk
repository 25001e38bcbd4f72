# examples/tools.mk - using hardreid from the outside (included by the
# Makefile; CC, BUILD, CFLAGS_BASE, OMP come from there).
#   make cli           $(BUILD)/tools/hardreid-difficulty (+ npy_gen, its
#                      test-input generator)
#   make lib           $(BUILD)/libhardreid.so (the header as a shared library)
#   make install       PREFIX=/usr/local (DESTDIR too): include/hardreid.h,
#                      bin/hardreid-difficulty, lib/libhardreid.so*,
#                      lib/pkgconfig/hardreid.pc
#   make test-tools    CLI bad-file catalogue, Python (ctypes + numpy, and the
#                      PyTorch sampler loop; either missing fails unless
#                      HR_ALLOW_SKIP=1), install into a temp prefix + pkg-config
# test-tools is part of `make test` (test-all below).

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= bin
INCLUDEDIR ?= include
LIBDIR     ?= lib
INSTALL    ?= install
HR_VERSION := $(shell sed -n 's/^\#define HARDREID_VERSION_STRING "\(.*\)"/\1/p' hardreid.h)
# 0.x: every minor release may change the ABI, so the soname carries it
HR_SONAME  := libhardreid.so.$(word 1,$(subst ., ,$(HR_VERSION))).$(word 2,$(subst ., ,$(HR_VERSION)))
TOOLS      := $(BUILD)/tools
CLI        := $(TOOLS)/hardreid-difficulty
NPY_GEN    := $(TOOLS)/npy_gen
HR_LIB     := $(BUILD)/libhardreid.so
# a python3 that can import numpy: Debian's first (python3-numpy), then PATH's
HR_PYTHON  ?= $(firstword $(foreach p,/usr/bin/python3 python3,$(shell $(p) -c 'import numpy' >/dev/null 2>&1 && echo $(p))))

.PHONY: cli lib install test-tools test-cli test-python test-install

test-all: test-tools

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
# plain .so as symlinks, the usual layout for ld and ld.so.
install: $(CLI) $(HR_LIB)
	@test -n "$(HR_VERSION)" || { echo "install: no version in hardreid.h" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/$(BINDIR) $(DESTDIR)$(PREFIX)/$(INCLUDEDIR) \
	  $(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig
	$(INSTALL) -m 644 hardreid.h $(DESTDIR)$(PREFIX)/$(INCLUDEDIR)/hardreid.h
	$(INSTALL) -m 755 $(CLI) $(DESTDIR)$(PREFIX)/$(BINDIR)/hardreid-difficulty
	$(INSTALL) -m 755 $(HR_LIB) $(DESTDIR)$(PREFIX)/$(LIBDIR)/libhardreid.so.$(HR_VERSION)
	ln -sf libhardreid.so.$(HR_VERSION) $(DESTDIR)$(PREFIX)/$(LIBDIR)/$(HR_SONAME)
	ln -sf $(HR_SONAME) $(DESTDIR)$(PREFIX)/$(LIBDIR)/libhardreid.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(HR_VERSION)|' \
	  examples/hardreid.pc.in > $(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig/hardreid.pc
	@echo "installed hardreid $(HR_VERSION) in $(DESTDIR)$(PREFIX)"

# ---- tests --------------------------------------------------------------------
test-tools: test-cli test-python test-install

test-cli: $(CLI) $(NPY_GEN)
	@echo "== CLI: layouts, worked example, bad-file catalogue =="
	@sh tests/tools_test.sh $(CLI) $(NPY_GEN) $(TOOLS)/cli_test

test-python: $(HR_LIB)
	@echo "== Python (ctypes + numpy) =="
	@if [ -z "$(HR_PYTHON)" ]; then \
	  sh scripts/missing.sh "a python3 with numpy (the Python tests)" "apt-get install python3-numpy python3-torch" || exit 1; \
	else \
	  HARDREID_LIB=$(HR_LIB) $(HR_PYTHON) examples/python/test_hardreid.py || exit 1; \
	  HARDREID_LIB=$(HR_LIB) $(HR_PYTHON) examples/python/torch_loop.py --steps 12 --refresh 4 --check || exit 1; \
	fi

test-install: $(CLI) $(HR_LIB)
	@echo "== install into a temporary prefix, build against it with pkg-config =="
	@sh tests/install_test.sh "$(MAKE)" $(TOOLS)/install_test "$(CC)"
