# Entry points. Each target first runs tools/bootstrap.py on $(PYTHON), which sets up everything inside
# the clone (Pipenv in .bootstrap/, packages in .venv/, the cdktf CLI in node_modules/) without ever
# pip-installing into that interpreter, and skips what is already current.
PYTHON ?= python3
PIPENV := .bootstrap/bin/pipenv
BOOTSTRAP := $(PYTHON) -m tools.bootstrap
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_IGNORE_VIRTUALENVS := 1
export PIPENV_VERBOSITY := -1
export CHECKPOINT_DISABLE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.DEFAULT_GOAL := help
.PHONY: help synth test bench scan cost review adopt drift doctor

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  make %-7s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

synth: ## set up Python and npm packages, synthesize every stack into cdktf.out/
	@$(BOOTSTRAP) synth
	@$(PIPENV) run synth

test: ## set up everything the tests need (apt packages too), run ruff and the whole test suite
	@$(BOOTSTRAP) test
	@$(PIPENV) run test

bench: ## measure synthesis time and memory
	@$(BOOTSTRAP) synth
	@$(PIPENV) run bench

scan: synth ## checkov with the project's policies on every synthesized stack (SCAN_ARGS: more options)
	@$(BOOTSTRAP) dev
	@$(PIPENV) run scan $(SCAN_ARGS)

cost: synth ## monthly cost of every synthesized stack (COST_ARGS: more options)
	@$(PIPENV) run cost $(COST_ARGS)

review: ## review the working tree against BASE (default: its merge base with main): changes, cost, findings, diagrams
	@$(BOOTSTRAP) dev
	@$(PIPENV) run review $(BASE) $(REVIEW_ARGS)

adopt: ## find a hand-built deployment and plan taking it over, read-only (ADOPT_ARGS: --replace NAME, ...)
	@$(BOOTSTRAP) dev
	@$(PIPENV) run adopt $(ADOPT_ARGS)

drift: ## what changed in the account outside Terraform, per deployed stack, read-only (DRIFT_ARGS: STACK ..., --json)
	@$(BOOTSTRAP) dev
	@$(PIPENV) run drift $(DRIFT_ARGS)

doctor: ## the guide's troubleshooting list asked of the account, read-only (DOCTOR_ARGS: homu-fargate|homu-ec2, --json)
	@$(BOOTSTRAP) dev
	@$(PIPENV) run doctor $(DOCTOR_ARGS)
