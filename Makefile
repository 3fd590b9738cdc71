# mmfeat developer entry points. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mmfeat-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test test-all demo bench clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the declared or pinned dependencies change.
$(STAMP): setup.py constraints.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt torch torchaudio
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev,dask]'
	touch $@

# Azurite (npm), the local Azure Blob server of the object-store tests. Without npm or its registry
# those tests skip and say why; nothing else depends on it.
AZURITE := .ci/node/node_modules/.bin/azurite-blob

$(AZURITE):
	@if command -v npm >/dev/null; then \
	    npm install --prefix .ci/node --no-audit --no-fund --silent azurite@3.35.0 \
	        || echo "Azurite could not be installed: the Azure store tests will skip"; \
	else echo "npm not found: the Azure store tests will skip"; fi

test: $(STAMP) $(AZURITE)  ## the suite CI runs (slow tests included; see README to skip them)
	$(BIN)/python -m pytest -q -ra tests

demo: $(STAMP)  ## multimodal demo: digits images + DTMF audio + noisy text, extract, train, compare
	$(BIN)/python pipelines/demo.py --out demo_out

bench: $(STAMP)  ## throughput and memory benchmarks (minutes; prints figures and ratios)
	$(BIN)/python benchmarks/text_throughput.py
	$(BIN)/python benchmarks/image_throughput.py
	$(BIN)/python benchmarks/audio_throughput.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/memory_scaling.py

clean:
	rm -rf $(VENV) demo_out bench_out .pytest_cache .ci/node
