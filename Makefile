# edge-ids: `make demo` and `make test` are the two commands README starts with.
# Both set up what they need on a fresh machine (a venv in .venv; system packages when run as root).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
EXTRAS ?= train,shark,dev,demo
APT_PACKAGES := tshark mosquitto iproute2 systemd

.PHONY: demo test test-fast lint models bench setup system-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

setup: system-deps $(VENV)/.installed

# Installs tshark (parity reference) and mosquitto (real broker in tests) when missing and root.
system-deps:
	@missing=""; for b in tshark mosquitto ip systemd-analyze; do command -v $$b >/dev/null 2>&1 || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing (apt)"; \
	    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	    log=$$(mktemp); \
	    if DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$$log" 2>&1 && \
	       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 $(APT_PACKAGES) >>"$$log" 2>&1; \
	    then rm -f "$$log"; else cat "$$log"; rm -f "$$log"; exit 1; fi; \
	  else echo "note:$$missing not installed; tests needing them are skipped (apt install $(APT_PACKAGES))"; fi; \
	fi

demo: system-deps $(VENV)/.installed
	$(PY) -m agent demo

test: setup
	$(VENV)/bin/ruff check agent trainer tests bench examples
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check agent trainer tests bench examples
	$(VENV)/bin/mypy

models: $(VENV)/.installed
	$(PY) -m trainer.lab.default_models

bench: $(VENV)/.installed
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build dist *.egg-info
