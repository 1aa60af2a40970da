# Two commands matter: `make lab` (the toolkit) and `make test` (every test). Both install what they need.
# Ports: `make lab PORT=8811 LAB_PORT=8899` moves the sandbox, .env's target and JupyterLab together.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8765
LAB_PORT ?= 8888
STAMP := $(VENV)/.installed
ARTIFACTS := test-artifacts
# apt and dpkg wait this long (seconds) for another package manager to let go of their lock instead of failing.
APT_LOCK_TIMEOUT ?= 600

.PHONY: lab app test lint sandbox stop install browser bench report strip clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e . >$(VENV)/install-editable.log 2>&1 || { cat $(VENV)/install-editable.log; exit 1; }
	touch $(STAMP)

install: $(STAMP)

## Start the sandbox in the background (and point .env at it), then open JupyterLab on the notebooks.
lab: install
	@$(PY) -m sandbox.background --port $(PORT) --env-file .env
	$(VENV)/bin/jupyter lab --config=$(CURDIR)/lab_server_config.py --ServerApp.root_dir=notebooks \
	  --ServerApp.port=$(LAB_PORT) \
	  $(if $(filter 0,$(shell id -u)),--allow-root)

## The walkthroughs as an app with the code hidden (Voilà), beside `make lab`: http://127.0.0.1:$(APP_PORT)/
APP_PORT ?= 8866
app: install
	@$(PY) -m sandbox.background --port $(PORT) --env-file .env
	$(VENV)/bin/voila notebooks --no-browser --port=$(APP_PORT) --Voila.ip=127.0.0.1 --show_tracebacks=False

## Run the sandbox in the foreground.
sandbox: install
	$(PY) -m sandbox --port $(PORT)

## Stop the sandbox `make lab` started in the background.
stop: install
	@$(PY) -m sandbox.background --stop

## Debian's Chromium for the browser tests (never a downloaded browser). It waits for another apt or dpkg to let go
## of the package manager's locks: dpkg's through DPkg::Lock::Timeout; apt-get update (apt 2.6 fails at once on
## /var/lib/apt/lists/lock) by blocking on that lock until its holder releases it, then trying again.
APT_LISTS_LOCK_WAIT := import fcntl; fcntl.lockf(open("/var/lib/apt/lists/lock", "a"), fcntl.LOCK_EX)
browser:
	@command -v chromium >/dev/null || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); apt="$$sudo apt-get -o DPkg::Lock::Timeout=$(APT_LOCK_TIMEOUT) -qq"; \
	  err=$$(mktemp); tries=0; \
	  until $$apt update 2>$$err; do \
	    tries=$$((tries + 1)); \
	    if ! grep -q 'Could not get lock' $$err || [ $$tries -ge 10 ]; then cat $$err; rm -f $$err; exit 1; fi; \
	    echo "make browser: another package manager holds apt's lists lock; waiting for it (up to $(APT_LOCK_TIMEOUT) s)"; \
	    $$sudo timeout $(APT_LOCK_TIMEOUT) $(PYTHON) -c '$(APT_LISTS_LOCK_WAIT)' || { rm -f $$err; exit 1; }; \
	  done; rm -f $$err; \
	  $$apt install -y chromium >/dev/null; }

## Every test: the checks (ruff, mypy, import layers), then the sandbox (both of its profiles), and the client, the
## notebooks and the browser under each sandbox profile (strict: today's answers; drf: the other plausible answers of
## the real API). One line per part; details of each part in test-artifacts/pytest-PART.log.
PROFILES ?= strict drf
SANDBOX_TESTS := $(wildcard tests/test_sandbox*.py) tests/test_guide_script.py
BROWSER_TESTS := tests/test_browser.py
PART_sandbox := $(SANDBOX_TESTS)
PART_client := tests $(addprefix --ignore=,$(SANDBOX_TESTS) tests/test_notebooks.py $(BROWSER_TESTS))
PART_notebooks := --nbval-lax --nbval-current-env notebooks tests/test_notebooks.py
PART_browser := $(BROWSER_TESTS)
test: install browser
	@mkdir -p $(ARTIFACTS); rm -f $(ARTIFACTS)/lint.failed; status=0; total=""; \
	printf '%-20s ' "lint:"; \
	if { $(VENV)/bin/ruff format --check . && $(VENV)/bin/ruff check . && $(VENV)/bin/mypy \
	     && $(VENV)/bin/lint-imports; } >$(ARTIFACTS)/lint.log 2>&1; then \
	  echo "ruff format, ruff check, mypy and the import layers: clean"; \
	else status=1; touch $(ARTIFACTS)/lint.failed; echo "FAILED (details: $(ARTIFACTS)/lint.log)"; fi; \
	runs="sandbox:both"; for profile in $(PROFILES); do runs="$$runs client:$$profile notebooks:$$profile browser:$$profile"; done; \
	for run in $$runs; do \
	  part=$${run%%:*}; profile=$${run##*:}; \
	  case $$part in \
	    sandbox) args="$(PART_sandbox)";; client) args="$(PART_client)";; \
	    notebooks) args="$(PART_notebooks)";; browser) args="$(PART_browser)";; \
	  esac; \
	  log=$(ARTIFACTS)/pytest-$$part-$$profile.log; \
	  printf '%-20s ' "$$part ($$profile):"; \
	  SANDBOX_PROFILE=$$([ $$profile = both ] && echo strict || echo $$profile) $(PY) -m pytest -q $$args >$$log 2>&1; \
	  code=$$?; \
	  line=$$(tail -n 1 $$log | sed 's/^=* *//; s/ *=*$$//'); echo "$$line"; total="$$total $$line"; \
	  if [ $$code != 0 ]; then status=1; grep -E '^(FAILED|ERROR) ' $$log | sed 's/^/           /'; \
	    echo "           details: $$log"; fi; \
	done; \
	count() { echo "$$total" | grep -oE "[0-9]+ $$1" | awk '{n += $$1} END {print n + 0}'; }; \
	echo "tests: $$(count passed) passed, $$(( $$(count failed) + $$(count error) )) failed, $$(count skipped) skipped"; \
	exit $$status

## The checks alone: formatting, lint, types, the import layers.
lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## The reconciliation report for a ledger: make report LEDGER=path/to/ledger.csv (stops the sandbox it started).
LEDGER ?= samples/ledger_demo.csv
report: install
	@$(PY) -m sandbox.background --port $(PORT) --env-file .env --then $(PY) -m helpers.report $(LEDGER)

## Remove outputs from the notebooks before committing (a test refuses committed outputs).
strip: install
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

## Benchmarks of issue 14's goals, each a ratio against a baseline measured in the same run (minutes).
## BENCH="--quick" runs every benchmark on small data in seconds; BENCH="--profile drf list_investments" picks.
BENCH ?=
bench: install
	$(PY) -m bench $(BENCH)

clean:
	rm -rf $(VENV) sandbox/data .state $(ARTIFACTS)
