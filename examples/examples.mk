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
