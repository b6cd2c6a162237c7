# Two commands for a fresh machine:
#   make demo   set up .venv and run a real search (SEKI, embedded LLM, no key)
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# llama-cpp-python compiles from source; the default build uses CPU features some VMs forbid.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
# The exact CPU build of torch these machines test with; pyproject's nni extra states only a
# compatible range (torch>=2.1,<3), so the pin lives here and in CI, not in the package.
TORCH_PIN ?= torch==2.13.0
# The compiled wheel is kept here so a second setup on the same machine takes seconds.
WHEELS ?= $(HOME)/.cache/llmnas/wheels
PYTEST_ARGS ?=

# The README's results section (see README "Results"): our methods with the embedded model, their
# LLM-off ablations and the hosts' built-ins on NAS-Bench-201 (RESULTS_LLM), and the LLM-free
# contenders on six benchmarks over 10 seeds (RESULTS_BASELINES). Each folder keeps its runs
# (runs.jsonl) and the LLM's recorded answers (llm-cache).
RESULTS_LLM ?= results/nb201-cifar10
RESULTS_BASELINES ?= results/baselines

.PHONY: setup demo test test-fast results results-from-scratch clean

setup: $(VENV)/.setup-done

$(VENV)/.setup-done: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip wheel setuptools
	$(PIP) install "$(TORCH_PIN)"
	mkdir -p $(WHEELS)
	ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-cache-dir --no-deps -w $(WHEELS) "llama-cpp-python>=0.3.7"
	$(PIP) install $$(ls -t $(WHEELS)/llama_cpp_python-*.whl | head -n 1)
	$(PIP) install --find-links $(WHEELS) -e ".[all]" "$(TORCH_PIN)"
	touch $@

demo: setup
	$(VENV)/bin/llmnas demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# Reproduce the results from the recorded LLM answers (minutes, no model): every run repeated in
# a fresh folder and checked against the recorded one, then the README's section rewritten.
results: setup
	rm -rf results/reproduced
	$(VENV)/bin/llmnas compare --rerun $(RESULTS_LLM) --out results/reproduced/llm
	$(VENV)/bin/llmnas compare --rerun $(RESULTS_BASELINES) --out results/reproduced/baselines
	$(VENV)/bin/llmnas compare --report-only --out $(RESULTS_LLM) --readme README.md
	$(VENV)/bin/llmnas compare --report-only --out $(RESULTS_BASELINES) --readme README.md

# The same runs (every benchmark, contender and seed each folder records) from scratch with the
# embedded model, into results/from-scratch; each command states its estimated duration first.
results-from-scratch: setup
	$(VENV)/bin/llmnas compare --rerun $(RESULTS_LLM) --from-scratch --out results/from-scratch/llm
	$(VENV)/bin/llmnas compare --rerun $(RESULTS_BASELINES) --from-scratch --out results/from-scratch/baselines

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
