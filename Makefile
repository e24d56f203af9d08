# Two commands do all the set-up on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
PIPQ ?= -q

.PHONY: demo test test-fast lint install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIPQ) --upgrade pip
	# xtcocotools' PyPI wheel is built against numpy 1.x; build it from source against our numpy.
	# Its setup.py imports numpy, hence no build isolation (numpy, cython and setuptools first).
	$(PIP) install $(PIPQ) -c constraints.txt numpy cython setuptools wheel
	$(PIP) install $(PIPQ) -c constraints.txt --no-binary xtcocotools --no-build-isolation xtcocotools
	# torch 2.14.1 for x86_64 comes with its CUDA libraries: the environment takes about 7 GB.
	$(PIP) install $(PIPQ) -c constraints.txt -e '.[dev]' || { df -h $(VENV); \
	  echo "make: installing into $(VENV) failed; it needs about 7 GB of free disk (above: what is free)"; exit 1; }
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/adaanchor demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/deptry src

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -q

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -q -m "not slow"

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
