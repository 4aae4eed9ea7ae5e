# edge-digits developer targets. The venv lives in .venv and is reused; `setup` reinstalls only when
# pyproject.toml changes.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DATA    ?= $(EDGE_DIGITS_DATA)
USPS    ?= $(EDGE_DIGITS_USPS)
SEED    ?= 0

.PHONY: setup demo test test-all test-wheel models bench bench-record sample clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[train,dev]'
	touch $(STAMP)

# The main job on the embedded default, offline: the shipped int8 model reading digits from the bundled video.
demo: setup
	$(BIN)/python scripts/demo.py

# The quick suite for development (under 3 minutes here); test-all adds the tests marked slow (long training
# runs, Ctrl-C of a live training) and is what CI runs.
test: setup
	$(BIN)/python -m pytest -q -m "not slow"

test-all: setup
	$(BIN)/python -m pytest -q

# Train `edge` on full MNIST and export every format into export/; the learned detector on generated pages of
# MNIST and USPS training digits into export/detector/, the link model that says which of its candidates are one
# number into export/links/, and its box refiner into export/refine/; then
# `edge-cam` (edge with more multiply-adds, trained on USPS and on the detector's crops of generated pages)
# into export/camera/; the accept model that decides which of the learned reader's candidates are digits
# (fitted on what those three make of training pages) into export/accept/; and the rules detector's box-fit
# net into export/boxfit/. Needs MNIST and USPS: DATA=path/to/mnist.npz USPS=path/to/usps.npz (~3.5 h on 2 cores;
# the detector alone about 2.5 h). The detector is the shipped chain (export/detector/README.md): 14,000 steps from
# scratch, three fine-tunes of 6,000 steps on new pages (the last with a third of them in pencil), and the last
# one's weights averaged with the net it started from (scripts/blend_detector.py).
DU = $(if $(DATA),--data $(DATA)) $(if $(USPS),--usps $(USPS))
FT = --epochs 6 --lr 1e-3
models: setup
	$(BIN)/edge-digits train --arch edge --seed $(SEED) --out runs/edge --force $(if $(DATA),--data $(DATA))
	$(BIN)/edge-digits export runs/edge --int8 --out export --force $(if $(DATA),--data $(DATA))
	$(BIN)/python scripts/model_card.py export
	$(BIN)/edge-digits train --arch detector --seed $(SEED) --out runs/detector --force $(DU)
	$(BIN)/edge-digits train --arch detector --init runs/detector/model.keras --seed 3 $(FT) --out runs/det-ft-mixed --force $(DU)
	$(BIN)/edge-digits train --arch detector --init runs/det-ft-mixed/model.keras --seed 4 $(FT) --out runs/det-ft-sigma --force $(DU)
	$(BIN)/edge-digits train --arch detector --init runs/det-ft-sigma/model.keras --seed 6 $(FT) --focus pen=pencil:0.33 --out runs/det-pencil --force $(DU)
	$(BIN)/python scripts/blend_detector.py runs/det-pencil --out runs/det-blend --force $(DU)
	$(if $(USPS),EDGE_DIGITS_USPS=$(USPS) )$(BIN)/edge-digits export runs/det-blend --int8 --out export/detector --force $(if $(DATA),--data $(DATA))
	$(BIN)/python scripts/train_links.py $(if $(DATA),--data $(DATA)) $(if $(USPS),--usps $(USPS)) --out export/links
	$(BIN)/python scripts/train_refine.py $(if $(DATA),--data $(DATA)) $(if $(USPS),--usps $(USPS)) --out export/refine
	$(BIN)/edge-digits train --arch edge-cam --seed $(SEED) --out runs/edge-cam --force $(if $(DATA),--data $(DATA)) $(if $(USPS),--usps $(USPS))
	$(BIN)/edge-digits export runs/edge-cam --int8 --out export/camera --force $(if $(DATA),--data $(DATA))
	$(BIN)/python scripts/model_card.py export/camera
	$(BIN)/python scripts/train_accept.py $(if $(DATA),--data $(DATA)) $(if $(USPS),--usps $(USPS)) --out export/accept
	$(BIN)/python scripts/train_boxfit.py $(if $(DATA),--data $(DATA)) --out export/boxfit

# Benchmarks: every exported model x runtime x threads x batch, the Keras model.predict baseline and the
# camera pipeline on the demo video; writes benchmarks/results/ only (~3-5 min on 2 cores). `make
# bench-record` re-renders the committed BENCHMARKS.md from that run's JSON, without measuring again.
# The baseline uses runs/mlp/model.keras when present (`edge-digits train --arch mlp --out runs/mlp`).
bench: setup
	$(if $(DATA),EDGE_DIGITS_DATA=$(DATA) )$(BIN)/edge-digits bench --pipeline tests/data/demo.mp4 \
	  --json-file benchmarks/results/bench.json --csv benchmarks/results/bench.csv \
	  --plot benchmarks/results/bench.png

bench-record: bench
	$(BIN)/edge-digits bench --from-json benchmarks/results/bench.json --markdown BENCHMARKS.md \
	  --plot benchmarks/results/bench.png

# The wheel as a user gets it: built, installed into a clean venv without extras, run from another folder.
test-wheel: setup
	EDGE_DIGITS_WHEEL_TEST=1 $(BIN)/python -m pytest -q tests/test_wheel.py

# Regenerate the bundled MNIST sample from the full file.
sample: setup
	$(BIN)/python scripts/make_sample.py $(DATA)

clean:
	rm -rf runs .pytest_cache
