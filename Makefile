# Two commands matter: `make lab` (the toolkit) and `make test` (every test). Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8765
STAMP := $(VENV)/.installed

.PHONY: lab test sandbox install browser bench report strip clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

.env:
	cp .env.example .env

## Start the sandbox in the background and open JupyterLab on the notebooks.
lab: install .env
	@$(PY) -m sandbox.background --port $(PORT)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

## Run the sandbox in the foreground.
sandbox: install
	$(PY) -m sandbox --port $(PORT)

## Debian's Chromium for the browser tests (never a downloaded browser).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

## Every test: unit, sandbox over HTTP, helpers, notebooks, and JupyterLab in headless Chromium.
test: install browser
	$(PY) -m pytest

## The reconciliation report for a ledger: make report LEDGER=path/to/ledger.csv
LEDGER ?= samples/ledger_demo.csv
report: install .env
	@$(PY) -m sandbox.background --port $(PORT)
	$(PY) -m helpers.report $(LEDGER)

## Remove outputs from the notebooks before committing (a test refuses committed outputs).
strip: install
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

## Benchmarks of issue 14's goals, each a ratio against a baseline measured in the same run (minutes).
## BENCH="--quick" runs every benchmark on small data in seconds; BENCH="--profile drf list_investments" picks.
BENCH ?=
bench: install
	$(PY) -m bench $(BENCH)

clean:
	rm -rf $(VENV) sandbox/data .state test-artifacts

## The walkthroughs as an app with the code hidden (Voilà), beside `make lab`: open http://127.0.0.1:$(APP_PORT)/
APP_PORT ?= 8866
.PHONY: app
app: install .env
	@$(PY) -m sandbox.background --port $(PORT)
	$(VENV)/bin/voila notebooks --no-browser --port=$(APP_PORT) --Voila.ip=127.0.0.1 --show_tracebacks=False
