"""Shared helpers: experiment files on disk and the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def write_experiment(path: Path, **doc) -> Path:
    """Write an experiment YAML file made of ``doc`` and return its path."""
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def sweep_cli(*args, cwd: Path, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m sweep ARGS`` in a subprocess, as a user would, and capture its output."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "sweep", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture
def small_grid():
    """A 12-trial grid on digits that trains in about a second (3 training runs x 4 epochs values)."""
    return {
        "name": "small",
        "dataset": {"name": "digits"},
        "method": "grid",
        "parameters": {
            "hidden_size": {"values": [16, 32]},
            "learning_rate": {"values": [0.1, 0.02]},
            "epochs": {"values": [1, 3, 4]},
        },
        "fixed": {"optimizer": "sgd_momentum", "init": "he", "batch_size": 64},
        "n_jobs": 2,
    }
