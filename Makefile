# Two commands on a fresh machine: `make sweep` and `make test`.
# Each creates .venv and installs the package when it is missing or pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
EXP    ?= experiments/default.yaml

.PHONY: sweep test test-fast bench clean

# pip compiles every module it installs on one core (two thirds of its time); compileall does it on
# every core, and skips what no sweep or test process imports (the packages' own test suites, pip,
# fontTools (PDF and SVG fonts only), SQLAlchemy and alembic (Optuna's database storage)). Its exit
# status is ignored: a module that does not compile on this Python (some packages ship one) is left
# as pip leaves it.
# pip 21.3 is the first to install this project editable (PEP 660).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q 'pip>=21.3'
	$(PY) -m pip install -q --no-compile -e '.[test]'
	$(PY) -m compileall -qq -j 0 -x '/(tests|pip|setuptools|pygments|fontTools|sqlalchemy|alembic)/' $(VENV)/lib \
		|| true
	touch $(STAMP)

# The package is installed editable; where PYTHONDONTWRITEBYTECODE is set (as on this project's
# machines) Python would compile every module again in each process and worker it starts (80 ms
# each, hundreds of processes in the tests). compileall writes what changed since the last time.
COMPILE := $(PY) -m compileall -q sweep

sweep: $(STAMP)
	$(COMPILE)
	$(VENV)/bin/sweep run $(EXP)

# Two pytest workers, one test file each at a time (a file's module fixtures, such as test_dask's
# cluster, stay in one process): the suite's subprocesses wait on each other often enough that this
# halves the wall time on two cores. The longest files go first (see LONGEST_FILES in tests/conftest.py).
test: $(STAMP)
	$(COMPILE)
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

test-fast: $(STAMP)
	$(COMPILE)
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m "not slow"

bench: $(STAMP)
	$(COMPILE)
	$(PY) bench/train_throughput.py
	$(PY) bench/sweep_speedup.py
	$(PY) bench/backends.py
	$(PY) bench/adaptive.py
	$(PY) bench/vs_gridsearch.py
	$(PY) bench/memory_pss.py
	$(PY) bench/user_model_overhead.py
	$(PY) bench/ensemble.py --fashion

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
