# The two commands of the README:  `make run`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test install lint clean-venv

## make run: create the virtualenv, install, train the default models if there is no champion, make a local
## API key (var/dev-api-key) if there is none, serve on 127.0.0.1:8000
run: install
	$(BIN)/feedback ensure-model
	$(BIN)/feedback keys ensure-dev
	$(BIN)/feedback serve

## make test: the whole test suite (CI calls this through .ci/run)
test: install
	$(BIN)/pytest

install: $(VENV)/.installed

# torch is pinned and installed first so pip takes the CPU wheel on disk, never a CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

lint: install
	$(BIN)/ruff check .

clean-venv:
	rm -rf $(VENV)
