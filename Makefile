# The two commands of the README: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHURN_HOME ?= $(CURDIR)/.churn
export CHURN_HOME
# Sample business size for `make run` (see README).
CUSTOMERS ?= 50000
# Empty: the sample business runs from the catalogue's partitions_start to the last completed month.
MONTHS ?=

.PHONY: install run ui test test-daemon ui-test-deps lint format docs validate-defs bench bench-quick clean test-unit test-integration \
	check-branch-flow wheel wheelhouse image push-image promote-image lock docker-host test-stack stack-down \
	pipeline-month instance-home champion-version check-sources train reference-predictions validate deploy release

# Re-install only when setup.py changes.
# The versions are those of deploy/constraints.txt, which the image installs too (`make lock`).
$(BIN)/.installed: setup.py deploy/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint deploy/constraints.txt -e '.[test,deploy]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/churn-assets seed --if-missing --customers $(CUSTOMERS) $(if $(MONTHS),--months $(MONTHS))
	$(BIN)/churn-assets migrate
	$(BIN)/churn-assets run

ui: install
	$(BIN)/python -m churn_assets.local_instance $(CHURN_HOME)/dagster
	DAGSTER_HOME=$(CHURN_HOME)/dagster $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Tests train many small models while other processes (webserver, code server) run: one XGBoost
# thread each avoids OpenMP threads spinning against each other on a 2-core machine.
# One pytest worker per core (the suite is CPU-bound: ~16 of its 19 minutes on one core of this
# 2-core machine); each test file runs whole on one worker. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
test: install ui-test-deps lint
	CHURN_TRAIN_THREADS=$${CHURN_TRAIN_THREADS:-1} $(BIN)/python -m pytest churn_assets_tests/unit churn_assets_tests/integration -q -m "not daemon" \
	    -n $(TEST_WORKERS) --dist loadfile --junitxml=test-results.xml

# Tests that run Dagster's daemon for minutes: a 6-month backfill against `churn-assets run`, the
# alert sensors seeing a `churn-assets run` (~20 min: Dagster's own 30 s backfill evaluations, unpatched).
# CI (.ci/run) runs them after `make test`.
test-daemon: install
	CHURN_TRAIN_THREADS=$${CHURN_TRAIN_THREADS:-1} $(BIN)/python -m pytest churn_assets_tests/integration -q -m daemon --junitxml=test-results-daemon.xml

# The pipeline's Tests stage runs the two halves as separate jobs, each with its JUnit file.
test-unit: install
	CHURN_TRAIN_THREADS=$${CHURN_TRAIN_THREADS:-1} $(BIN)/python -m pytest churn_assets_tests/unit -q --junitxml=test-results-unit.xml

test-integration: install ui-test-deps
	CHURN_TRAIN_THREADS=$${CHURN_TRAIN_THREADS:-1} $(BIN)/python -m pytest churn_assets_tests/integration -q --junitxml=test-results-integration.xml

# The UI test screenshots the lineage page in Debian's headless Chromium.
ui-test-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the UI screenshot test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# ruff's lint rules and formatter (ruff.toml); `make format` applies the formatter.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .

# Generated from the catalogue's schema: the reference docs/catalogue.md and the JSON Schema
# churn_assets/models.schema.json that editors validate models.yaml with (unit tests fail when stale).
docs: install
	$(BIN)/python -m churn_assets.catalog_reference

validate-defs: install
	$(BIN)/dagster definitions validate -m churn_assets

# Benchmarks (not tests): each prints its figures next to its target; see bench/README.md.
BENCH_FLAGS ?=
bench: install
	$(BIN)/python bench/load.py $(BENCH_FLAGS)
	$(BIN)/python bench/gates.py $(BENCH_FLAGS)
	$(BIN)/python bench/overhead.py $(BENCH_FLAGS)
	$(BIN)/python bench/models.py $(BENCH_FLAGS)
	$(BIN)/python bench/scale.py $(BENCH_FLAGS)
	$(BIN)/python bench/backfill.py $(BENCH_FLAGS)
	$(BIN)/python bench/seed_speed.py --customers 1000000 --months 3

bench-quick: install
	for script in load gates overhead models scale backfill; do $(BIN)/python bench/$$script.py --quick || exit 1; done

clean:
	rm -rf $(CHURN_HOME)

# -- The pipeline's steps (azure-pipelines.yml calls these; each runs locally too) -------------
# Months are YYYY-MM: MONTH defaults to the last completed month, PRIOR_MONTH to the one before.
# In the pipeline the Train stage computes them once (`make pipeline-month`) and passes them on.
MONTH ?= $(shell $(PYTHON) -c "import datetime as d; m = d.date.today().replace(day=1) - d.timedelta(days=1); print(m.strftime('%Y-%m'))")
PRIOR_MONTH ?= $(shell $(PYTHON) -c "import datetime as d; m = d.date.fromisoformat('$(MONTH)-01') - d.timedelta(days=1); print(m.strftime('%Y-%m'))")
TRAIN_FROM ?= $(MONTH)
MODEL ?= churn
REFERENCE_PREDS ?= $(CHURN_HOME)/reference_predictions.parquet
IMAGE ?= churn-assets
TAG ?= $(shell git rev-parse HEAD 2>/dev/null || echo local)
# Images are found again by the tree they were built from: a merge dev -> prod (or prod -> main)
# that changes nothing has the same tree, so prod and main get the very image dev tested.
TREE ?= $(shell git rev-parse 'HEAD^{tree}' 2>/dev/null || echo local)
IMAGE_REF_FILE := dist/image-ref.txt
# Azure DevOps reads `##vso[...]` lines of a step's output as output variables for later stages.
set-output = echo "$(1)=$(2)"; echo "\#\#vso[task.setvariable variable=$(1);isOutput=true]$(2)"

# Pull requests go feat/* -> dev -> prod -> main ($SOURCE_BRANCH and $TARGET_BRANCH, refs/heads/ optional).
check-branch-flow:
	@source="$${SOURCE_BRANCH#refs/heads/}"; target="$${TARGET_BRANCH#refs/heads/}"; \
	case "$$source -> $$target" in \
	  "feat/"*" -> dev"|"dev -> prod"|"prod -> main") echo "branch flow ok: $$source -> $$target";; \
	  *) echo "pull requests go feat/* -> dev -> prod -> main, not $$source -> $$target" >&2; exit 1;; \
	esac

# The wheel that the image installs and the release archives (dist/ holds only this one).
wheel: install
	rm -rf dist build
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .

# After changing setup.py: pin what .venv now holds (the tests and the image use these versions).
lock:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test,deploy]'
	{ sed -n '/^#/p' deploy/constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } > deploy/constraints.txt.new
	mv deploy/constraints.txt.new deploy/constraints.txt
	touch $(BIN)/.installed

# The image's dependency layer: a wheel of every runtime dependency, at the pinned versions.
wheelhouse: wheel
	$(BIN)/python -m pip wheel --quiet --wheel-dir dist/deps --constraint deploy/constraints.txt \
	    "./$$(ls dist/churn_assets-*.whl)[deploy]"
	rm dist/deps/churn_assets-*.whl

# Docker's engine and mmdebstrap from Debian's packages (dockerd started if it is not running).
docker-host:
	deploy/docker-host.sh start

# The image (deploy/Dockerfile) on base images built from Debian packages; its ID (a sha256
# digest) goes to dist/image-id.txt, and that ID is what every environment deploys.
# BASE_IMAGE: any image with Python 3.11 (venv) and libgomp1; the default is built here.
BASE_IMAGE ?= churn-assets-base:bookworm
GIT_URL ?=
GIT_COMMIT ?= $(if $(GIT_URL),$(shell git rev-parse HEAD))
image: wheelhouse docker-host
	$(if $(filter churn-assets-base:bookworm,$(BASE_IMAGE)),$(BIN)/python deploy/stack.py base)
	$(BIN)/python deploy/stack.py build --base-image $(BASE_IMAGE) --tag $(TAG) \
	    --git-url "$(GIT_URL)" --git-commit "$(GIT_COMMIT)" --id-file dist/image-id.txt

# The dev stack as containers, end to end (PostgreSQL, code server, daemon, webserver, run
# containers): a month through GraphQL, a 3-month backfill, a code-server redeploy mid-run.
# Leaves nothing running: the stack is removed, and dockerd stopped if this target started it,
# whether the image build or the test failed. The image links the UI's code references to a
# repository (here a made-up Azure Repos URL).
STACK_GIT_URL = https://dev.azure.com/contoso/analytics/_git/churn_assets
test-stack: install
	status=0; $(MAKE) --no-print-directory image GIT_URL=$(STACK_GIT_URL) \
	    && CHURN_STACK_IMAGE=$$(cat dist/image-id.txt) $(BIN)/python -m pytest churn_assets_tests/stack -q -m stack \
	    --junitxml=test-results-stack.xml || status=$$?; deploy/docker-host.sh stop; exit $$status

stack-down:
	$(BIN)/python deploy/stack.py down --env dev
	$(BIN)/python deploy/stack.py down --env prod

# The digest (registry@sha256:...) of the image pushed or promoted under this tree's tag: recorded
# for the release archive and handed to the deploy stages as the output variable IMAGE_REF.
define record-image-ref
docker image inspect --format '{{index .RepoDigests 0}}' $(IMAGE):tree-$(TREE) > $(IMAGE_REF_FILE)
@$(call set-output,IMAGE_REF,$$(cat $(IMAGE_REF_FILE)))
endef

# The image pushed under its tree's tag; its digest (registry@sha256:...) is what every environment deploys.
push-image:
	docker tag "$$(cat dist/image-id.txt)" $(IMAGE):tree-$(TREE)
	docker push --quiet $(IMAGE):tree-$(TREE)
	$(record-image-ref)

# prod and main build nothing: they take the image dev built from this tree, by digest, or stop.
promote-image:
	mkdir -p dist
	docker pull --quiet $(IMAGE):tree-$(TREE) >/dev/null || { echo "no image of tree $(TREE) in the registry: \
	prod and main deploy only what dev built and tested (merge dev first)" >&2; exit 1; }
	$(record-image-ref)

# Every catalogue column exists in the sources of $CHURN_ENV (Snowflake is not queried at load).
check-sources: install
	$(BIN)/churn-assets check

# The months of this pipeline run, computed once (Train), read by Validation as output variables.
pipeline-month:
	@$(call set-output,MONTH,$(MONTH))
	@$(call set-output,PRIOR_MONTH,$(PRIOR_MONTH))

# $DAGSTER_HOME for `churn-assets run` on an agent: the environment's instance (deploy/dagster.yaml,
# PostgreSQL from DAGSTER_POSTGRES_*), in a folder outside the checkout. An existing file is kept.
instance-home:
	test -n "$(DAGSTER_HOME)" || { echo "set DAGSTER_HOME (a folder outside the checkout)" >&2; exit 1; }
	mkdir -p "$(DAGSTER_HOME)"
	test -f "$(DAGSTER_HOME)/dagster.yaml" || cp deploy/dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

# Materialise $(MONTH) in $CHURN_ENV (months from $(TRAIN_FROM)), recorded in the instance at $DAGSTER_HOME.
train: install
	$(BIN)/churn-assets migrate
	$(BIN)/churn-assets run --from $(TRAIN_FROM) --to $(MONTH)

# The version of $(MODEL) that is champion for $(MONTH) after Train: Validation's --val-model-version.
champion-version: install
	@version=$$($(BIN)/churn-assets champion --model $(MODEL) --month $(MONTH)) && $(call set-output,MODEL_VERSION,$$version)

# The Validation stage: $(MODEL)'s predictions of $(MONTH) in $CHURN_ENV against a reference month
# exported first (in the pipeline: prod's $(PRIOR_MONTH), read with CHURN_ENV=prod and a read-only role).
reference-predictions: install
	mkdir -p $(dir $(REFERENCE_PREDS))
	$(BIN)/churn-assets export-predictions --model $(MODEL) --month $(PRIOR_MONTH) --out $(REFERENCE_PREDS)

VAL_MODEL_VERSION ?=
validate: install
	test -n "$(VAL_MODEL_VERSION)" || { echo "set VAL_MODEL_VERSION: the version Train registered (make champion-version)" >&2; exit 1; }
	$(BIN)/python -m pytest churn_assets_tests/validation -vv --junitxml=validation_test_results.xml \
	    --val-model=$(MODEL) --val-model-version=$(VAL_MODEL_VERSION) \
	    --prev-month-preds=$(REFERENCE_PREDS) --curr-month-preds=warehouse:$(MODEL)/$(MONTH)

# Roll $(IMAGE_REF) out on the Docker host of $(DEPLOY_ENV) (the pipeline's deployment job runs
# there): `dagster instance migrate`, then code server, daemon and webserver replaced (deploy/stack.py).
STACK_ENV_FILE ?= /etc/churn-assets/$(DEPLOY_ENV).env
deploy:
	test -n "$(DEPLOY_ENV)" && test -n "$(IMAGE_REF)"
	$(PYTHON) deploy/stack.py deploy --env $(DEPLOY_ENV) --image $(IMAGE_REF) --env-file $(STACK_ENV_FILE)

# What main archives: the wheel in dist/, the deploy files, and which image (by digest) and commit they are.
release:
	rm -rf dist/release
	mkdir -p dist/release
	cp -r dist/churn_assets-*.whl deploy/* dist/release/
	printf '{"wheel": "%s", "image": "%s", "commit": "%s"}\n' "$$(cd dist && ls churn_assets-*.whl)" "$(IMAGE_REF)" \
	    "$$(git rev-parse HEAD 2>/dev/null || echo unknown)" > dist/release/release.json
