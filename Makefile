# dilpose: one entry point. `make paper` runs the notebook series, `make test` runs the tests.
# Both create (or reuse) the virtual environment in .venv by themselves.
PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU machines with the wheel on disk get the CPU build; GPU users: see README ("GPU users").
TORCH   ?= torch==2.13.0
PROFILE ?= default
DATASET ?= mocap
SEED    ?= 0
NB      ?=
RETRAIN ?=
RUNFLAGS = --profile $(PROFILE) --dataset $(DATASET) --seed $(SEED) --update-notebooks $(if $(RETRAIN),--retrain)
STAMP   := $(VENV)/.installed
TSTAMP  := $(VENV)/.installed-test
SMOKE   := $(CURDIR)/build/smoke

.PHONY: help venv venv-test explorer-shots paper nb test lint data weights bench lab explore clean

help:
	@echo "make paper   run notebooks 01.. on the embedded data (PROFILE=smoke|default|paper, DATASET=mocap|h36m), write reports/"
	@echo "             trained models are cached in reports/checkpoints/; RETRAIN=1 trains them all again"
	@echo "make nb NB=02  run one notebook (same options)"
	@echo "make test    unit tests, then the smoke-profile notebook run checked by nbval"
	@echo "make data    rebuild data/{cmu,hdm05}_mocap_3d.npz and data/bvh_example.json from ../shared/data (CMU + HDM05 BVH),"
	@echo "             then the simulated shop data/shop_sim/ (not committed; also built on first use)"
	@echo "make weights train (or take from the model cache) the shipped models -> dilpose/resources/models/"
	@echo "make bench   speed benchmarks -> reports/bench/"
	@echo "make lab     open JupyterLab on notebooks/"
	@echo "make explorer-shots  the browser test, refreshing the README's screenshot and reports/bench/explorer.json"
	@echo "make explore serve notebook 07, the 3D skeleton explorer, as a web app (Voila) and print its URL"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[notebooks]"
	touch $(STAMP)

# The test tools (pytest, nbval, hypothesis, ruff, playwright): the `test` extra, for `make test`.
$(TSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[notebooks,test]"
	touch $(TSTAMP)

venv: $(STAMP)

venv-test: $(TSTAMP)

paper: venv
	$(BIN)/python -m dilpose.runner $(RUNFLAGS)

nb: venv
	@test -n "$(NB)" || (echo "make nb NB=02: which notebook?" >&2; exit 2)
	$(BIN)/python -m dilpose.runner $(RUNFLAGS) --only $(NB)

lint: venv-test
	$(BIN)/ruff check dilpose tests notebooks/*.py

test: venv-test lint
	rm -rf $(SMOKE) $(CURDIR)/build/nbval
	DILPOSE_REPORTS=$(SMOKE) $(BIN)/python -m dilpose.runner --profile smoke
	DILPOSE_SMOKE_REPORTS=$(SMOKE) $(BIN)/python -m pytest tests
	# nbval re-executes the smoke notebooks and compares their checked cells; it reads the models
	# the smoke run just trained from a copy of its model cache (training was exercised once).
	mkdir -p $(CURDIR)/build/nbval && cp -al $(SMOKE)/checkpoints $(CURDIR)/build/nbval/checkpoints
	DILPOSE_REPORTS=$(CURDIR)/build/nbval $(BIN)/python -m pytest --nbval-lax -p no:cacheprovider $(SMOKE)/executed

data: venv
	$(BIN)/python -m dilpose.datasets.mocap_import
	$(BIN)/python -m dilpose.datasets.shop_sim

weights: venv
	$(BIN)/python -m dilpose.weights

bench: venv
	$(BIN)/python -m dilpose.bench

lab: venv
	$(BIN)/jupyter lab notebooks/

explore: venv
	$(BIN)/python -m dilpose.app

# The browser test, writing into reports/ (the README's screenshot, reports/bench/explorer.json);
# under make test it writes into build/browser/ and leaves the checkout untouched.
explorer-shots: venv-test
	DILPOSE_BROWSER_OUT=reports $(BIN)/python -m pytest -p no:cacheprovider tests/test_explorer_browser.py

clean:
	rm -rf build .pytest_cache
