PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# feedparser's own test documents, for tests/test_feedparser_suite.py: kept beside the venv
# whose feedparser they match, fetched here so that no test ever downloads anything.
SDIST := $(VENV)/feedparser-sdist

PYTEST_ARGS ?= -n 3 --dist loadfile  # most tests wait on real processes: three workers share the cores

.PHONY: install run test lint bench clean lock
.PHONY: soak

install: $(STAMP) $(SDIST)/.fetched

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[test]'
	touch $(STAMP)

$(SDIST)/.fetched: $(STAMP)
	$(BIN)/python -m pip download --quiet --no-deps --no-binary feedparser -d $(SDIST) \
		"feedparser==$$($(BIN)/python -c 'import feedparser; print(feedparser.__version__)')"
	touch $@

# Rebuild $(LOCK): the newest versions pyproject.toml allows, installed in a throwaway venv and frozen.
# setuptools and wheel stay out: builds get their own in an isolated environment.
lock:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PY) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet -e '.[test]'; \
	{ echo "# Pinned versions for 'make install' (pip install -c $(LOCK) -e '.[test]')."; \
	  echo "# Do not edit by hand: change pyproject.toml, then refresh with 'make lock' and run 'make install'."; \
	  echo "# 'make lock' installs '.[test]' into a throwaway venv and keeps 'pip freeze --all --exclude-editable'."; \
	  echo "# Built with $$("$$tmp/venv/bin/python" -VV | head -1) on $$(uname -sm)."; \
	  "$$tmp/venv/bin/python" -m pip freeze --all --exclude-editable | grep -Ev '^(setuptools|wheel)=='; \
	} > "$$tmp/lock"; \
	if grep -Eiq '^(torch|nvidia-)' "$$tmp/lock"; then echo "torch got into the lock; not used here" >&2; exit 1; fi; \
	mv "$$tmp/lock" $(LOCK)

run: install
	$(BIN)/notifier run

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check notifier workers tests benchmarks
	$(BIN)/ruff format --check notifier workers tests benchmarks

bench: install
	$(BIN)/python -m benchmarks $(if $(QUICK),--quick)

# issue 11's soak: workers, beats and a `notifier run` node restarted at random while 1,000 feeds
# change; counted from the sinks (tests/faults/soak). SOAK_ARGS: e.g. --feeds 200 --rate 1
SOAK_SECONDS ?= 600
soak: install
	$(BIN)/python -m tests.faults.soak --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .notifier
