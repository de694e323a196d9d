# pinsite's front door: the same targets for a person and for CI.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STACK_DIR ?= var/stack

.PHONY: run dev test lint bench drill stack stack-stop stack-status clean help

help:
	@echo "make run         serve the site on the embedded default (SQLite, local media, file-queue worker)"
	@echo "make dev         the same with DEBUG on: Django's debug page and reload on code changes"
	@echo "make test        lint, migration check and the test suite against real services"
	@echo "make stack       start PostgreSQL + 2 replicas, Redis, S3, Celery worker/beat and gunicorn"
	@echo "make stack-stop  stop what make stack started"
	@echo "make lint        ruff, the import contracts (lint-imports) and mypy"
	@echo "make bench       benchmarks on the real stack -> var/bench/results.json (QUICK=1: small)"
	@echo "make drill       the fault drill: each service killed or hung under load -> results.json"

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

dev: $(VENV)/.requirements
	DJANGO_DEBUG=true $(PY) -m pinsite.local_run

lint: $(VENV)/.requirements-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

test: lint
	$(PY) manage.py makemigrations --check --dry-run
	@# The production switches (HTTPS, cookies, HSTS, a real key) as a deployment sets them.
	DJANGO_ENV=production DJANGO_DEBUG=false DJANGO_ALLOWED_HOSTS=pins.example.com \
		DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
		$(PY) manage.py check --deploy --fail-level WARNING
	$(PY) -m pytest
	$(PY) -m audit.fuzz --seconds 60

bench: $(VENV)/.requirements-dev
	$(PY) -m bench $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

drill: $(VENV)/.requirements-dev
	$(PY) -m bench --only faults $(if $(QUICK),--quick)

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
