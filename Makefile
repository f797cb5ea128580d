# Entry points; each installs what it needs first, so they work on a fresh clone.
PIPENV ?= pipenv
export PIPENV_VERBOSITY := -1
export CHECKPOINT_DISABLE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install synth test bench

install:
	@command -v $(PIPENV) >/dev/null || python3 -m pip install --quiet pipenv
	$(PIPENV) sync --dev
	npm ci --no-audit --no-fund --loglevel=error

synth: install
	$(PIPENV) run synth

test: install
	$(PIPENV) run test

bench: install
	$(PIPENV) run bench
