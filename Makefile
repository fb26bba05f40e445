# Two commands for a newcomer: `make run` and `make test`. Everything else is reference.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000

# make test runs against PostgreSQL and Redis at their default local addresses. Redis db 15
# holds the test cache and db 14 the test broker, so a developer's db 0 is never flushed.
# pytest runs in PYTEST_WORKERS processes (pytest-xdist; 0: serial, in one process). Each
# worker has its own test database (test_lms_gw0, test_lms_gw1, ...) and its own Redis
# databases: worker gwN takes the given numbers less 2N (gw0 15/14, gw1 13/12), see
# lms/tests/xdist_workers.py. Two: one per core of the 2-core development machine (what
# -n auto picks there). --dist loadgroup keeps the tests marked xdist_group("subprocesses")
# (the Celery kill test, make run's) on one worker, one after another.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lms
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/15
TEST_BROKER_URL   ?= redis://127.0.0.1:6379/14
PYTEST_WORKERS    ?= 2
# DEBUG=true: the settings refuse to start without a SECRET_KEY when DEBUG is off (production),
# and the tests speak plain http (no https redirect, no secure-only cookies).
TEST_ENV := env DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	CACHE_KEY_PREFIX=lms-test EMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend DEBUG=true
# make run is development: DEBUG on (tracebacks, the public development SECRET_KEY, http).
RUN_ENV := env DEBUG=true

.PHONY: run prod api-key test check worker beat clean

$(VENV)/.run-installed: requirements.txt
	scripts/venv.sh $(PYTHON) $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt
	scripts/venv.sh $(PYTHON) $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

## run: the embedded default (SQLite in var/, eager Celery, console email) on http://127.0.0.1:$(PORT)
run: $(VENV)/.run-installed
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py seed_demo --if-empty
	$(RUN_ENV) $(PY) manage.py seed_demo_segments --if-empty
	$(RUN_ENV) $(PY) manage.py seed_demo_campaigns --if-empty
	$(RUN_ENV) $(PY) manage.py seed_demo_loyalty --if-empty
	$(RUN_ENV) $(PY) manage.py dev_bootstrap --port $(PORT)
	$(RUN_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

## prod: the production shape on this machine (Procfile: gunicorn, a Celery worker per queue, beat)
## on PostgreSQL + Redis with the production settings, unrelaxed (https on https://127.0.0.1:$(PORT)
## with a local self-signed certificate), and the demo data, through honcho; scripts/prod.sh
PROD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lms_prod
PROD_REDIS_URL    ?= redis://127.0.0.1:6379/0
PROD_BROKER_URL   ?= redis://127.0.0.1:6379/1
prod: $(VENV)/.run-installed
	TEST_DATABASE_URL=$(PROD_DATABASE_URL) TEST_REDIS_URL=$(PROD_REDIS_URL) scripts/services.sh
	PROD_DATABASE_URL=$(PROD_DATABASE_URL) PROD_REDIS_URL=$(PROD_REDIS_URL) PROD_BROKER_URL=$(PROD_BROKER_URL) \
		PORT=$(PORT) scripts/prod.sh

## api-key: print a new integration API key for make run's database (KEY=$$(make -s api-key))
api-key: $(VENV)/.run-installed
	@$(RUN_ENV) $(PY) manage.py create_api_key demo-$$(date +%Y%m%d-%H%M%S)

## test: lint, the import contract (.importlinter), the migration check, the schema check and the
## whole suite on PostgreSQL + Redis, with the console's browser tests in the distribution's
## Chromium (pytest -m "not browser" skips them). On a fresh machine scripts/venv.sh,
## scripts/services.sh and scripts/chromium.sh install what is missing as root on Debian/Ubuntu,
## else print the one command to run
test: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) scripts/services.sh
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(PY) manage.py spectacular --validate --fail-on-warn --file $(VENV)/schema.yml
	scripts/chromium.sh
	$(TEST_ENV) $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

## worker / beat: the production processes, for a local try with REDIS_URL set
worker: $(VENV)/.run-installed
	$(RUN_ENV) $(VENV)/bin/celery -A lms worker -Q otp,notifications,default -l info

beat: $(VENV)/.run-installed
	$(RUN_ENV) $(VENV)/bin/celery -A lms beat -l info

clean:
	rm -rf $(VENV) var .pytest_cache
