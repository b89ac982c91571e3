.PHONY: up down status test bench logs unit lint
SHELL := /bin/bash

up:      ## install what is missing, start every service and the Serve app on :8000
	@cluster/up.sh

down:    ## stop what `make up` started
	@cluster/down.sh

status:  ## one line per service
	@cluster/status.sh

test:    ## set-up, then the whole test suite
	@cluster/test.sh $(ARGS)

lint:    ## ruff (lint + format), mypy (strict on domain/services/storage/actors), import-linter layer contracts
	@cluster/lint.sh

unit:    ## pure unit tests only (no services)
	@.venv/bin/python -m pytest tests/unit -q

bench:   ## benchmarks (needs `make up`); results in loadtest/results/
	@cluster/bench.sh $(ARGS)

logs:    ## follow every service log
	@tail -n 50 -F .state/logs/*.log
