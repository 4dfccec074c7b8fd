# The two commands of the README: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHURN_HOME ?= $(CURDIR)/.churn
export CHURN_HOME
# Sample business size for `make run` (see README).
CUSTOMERS ?= 50000
MONTHS ?= 24

.PHONY: install run ui test ui-test-deps validate-defs bench clean

# Re-install only when setup.py changes.
$(BIN)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/churn-assets seed --if-missing --customers $(CUSTOMERS) --months $(MONTHS)
	$(BIN)/churn-assets run

ui: install
	mkdir -p $(CHURN_HOME)/dagster
	test -f $(CHURN_HOME)/dagster/dagster.yaml || cp dagster.yaml $(CHURN_HOME)/dagster/dagster.yaml
	DAGSTER_HOME=$(CHURN_HOME)/dagster $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

test: install ui-test-deps
	$(BIN)/python -m pytest churn_assets_tests/unit churn_assets_tests/integration -q --junitxml=test-results.xml

# The UI test screenshots the lineage page in Debian's headless Chromium.
ui-test-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the UI screenshot test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

validate-defs: install
	$(BIN)/dagster definitions validate -m churn_assets

bench: install
	$(BIN)/python bench/seed_speed.py --customers 1000000 --months 3

clean:
	rm -rf $(CHURN_HOME)
