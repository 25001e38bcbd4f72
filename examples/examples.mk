# examples/ — small programs on top of hardreid.h (included by the Makefile)

DEMO_ARGS ?= 8000 256 1

$(BUILD)/difficulty_demo: examples/difficulty_demo.c hardreid.h | $(BUILD)
	$(CC) $(CFLAGS_BASE) $(OMP) -o $@ $< $(HR_LIBS)

demo:
	@sh scripts/deps.sh demo
	@$(MAKE) --no-print-directory $(BUILD)/difficulty_demo
	$(BUILD)/difficulty_demo $(DEMO_ARGS)
