# pinsite's front door: the same targets for a person and for CI.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STACK_DIR ?= var/stack

.PHONY: run test lint bench stack stack-stop stack-status clean help

help:
	@echo "make run         serve the site on the embedded default (SQLite, local media, file-queue worker)"
	@echo "make test        lint, migration check and the test suite against real services"
	@echo "make stack       start PostgreSQL + 2 replicas, Redis, S3, Celery worker/beat and gunicorn"
	@echo "make stack-stop  stop what make stack started"
	@echo "make lint        ruff, the import contracts (lint-imports) and mypy"
	@echo "make bench       benchmarks on the real stack -> var/bench/results.json (QUICK=1: small)"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "pinsite needs Python 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamps: reinstall only when the requirement files change.
$(VENV)/.requirements: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.requirements-dev: requirements-dev.txt requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.requirements

run: $(VENV)/.requirements
	$(PY) -m pinsite.local_run

lint: $(VENV)/.requirements-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

test: lint
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest
	$(PY) -m audit.fuzz --seconds 60

bench: $(VENV)/.requirements-dev
	$(PY) -m bench $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

stack: $(VENV)/.requirements-dev
	$(PY) -m stack up --app --root $(STACK_DIR)

stack-stop:
	@if [ -x $(PY) ]; then $(PY) -m stack down --root $(STACK_DIR); else echo "nothing to stop"; fi

stack-status: | $(PY)
	$(PY) -m stack status --root $(STACK_DIR)

clean: stack-stop
	rm -rf var

# Security checks with outside tools (README "Security checks"); not part of `make test`.
# The tools get their own virtualenvs: semgrep and wapiti pin many packages of their own.
AUDIT_VENV := var/audit-venv
WAPITI_VENV := var/wapiti-venv
.PHONY: audit

$(AUDIT_VENV)/.installed: audit/requirements.txt
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install --quiet -r audit/requirements.txt
	@touch $@

$(WAPITI_VENV)/.installed: audit/requirements-wapiti.txt
	$(PYTHON) -m venv $(WAPITI_VENV)
	$(WAPITI_VENV)/bin/pip install --quiet -r audit/requirements-wapiti.txt
	@touch $@

audit: $(VENV)/.requirements $(AUDIT_VENV)/.installed $(WAPITI_VENV)/.installed
	$(PY) -m audit
