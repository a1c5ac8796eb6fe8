# Two commands on a fresh machine:  make demo   |   make test
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist
QUIET  := $(if $(filter true,$(CI)),--quiet,)

.PHONY: setup data demo test release lint clean

setup: $(STAMP) data

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Real Fashion-MNIST from Debian's package, gunzipped into torchvision's layout under .data/
data: $(STAMP)
	@if [ ! -f $(FMNIST)/train-images-idx3-ubyte.gz ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	  else echo "make: install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) as root"; exit 1; fi; \
	fi
	$(BIN)/autograder data prepare

demo: setup
	$(BIN)/autograder demo $(QUIET)

test: setup
	@$(BIN)/python -m pytest $(if $(QUIET),-q,) ; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 1; fi; exit $$rc

release: setup
	$(BIN)/autograder release $(QUIET) --out dist

lint: $(STAMP)
	$(BIN)/ruff check autograder solutions tests bench

clean:
	rm -rf demo-output graded dist .pytest_cache
