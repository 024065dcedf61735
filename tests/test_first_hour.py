"""What a new user meets first: the version, each command's help, and reading the latest run back."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from conftest import sweep_cli
from conftest_run import make_run

import sweep
from sweep.errors import SweepError


def test_version_is_the_packages():
    result = sweep_cli("--version", cwd=".")
    assert result.returncode == 0 and result.stdout.strip() == f"sweep {sweep.__version__}"


def test_every_command_explains_itself_on_its_help_page():
    listing = sweep_cli("--help", cwd=".").stdout
    commands = ["run", "list", "show", "best", "importance", "plot", "report", "compare", "gradcheck", "data"]
    for command in commands:
        assert f"    {command}" in listing, command
        page = sweep_cli(command, "--help", cwd=".")
        assert page.returncode == 0
        description = page.stdout.split("\n\n")[1].strip()
        assert description[:1].isupper() and len(description) > 15, (command, description)


@pytest.fixture
def results(tmp_path_factory, tmp_path):
    """A results/ folder with two runs of one experiment and one of another, written in that order."""
    grid = make_run(tmp_path_factory, "grid")
    root = tmp_path / "results"
    order = [root / "grid" / "20260101-000000", root / "grid" / "20260102-000000", root / "other" / "20250101-000000"]
    for age, folder in enumerate(order):
        shutil.copytree(grid, folder)
        stamp = time.time() - 1000 + age
        os.utime(folder / "trials.csv", (stamp, stamp))
    return root, order


def test_load_run_with_no_argument_reads_the_latest_run_as_the_command_line_does(results, monkeypatch):
    root, order = results
    monkeypatch.chdir(root.parent)
    assert sweep.load_run().run_dir == order[2].relative_to(root.parent)  # written last, whatever its name
    assert sweep.load_run("grid").run_dir == order[1].relative_to(root.parent)  # the experiment's latest
    assert sweep.load_run(root / "grid").run_dir == order[1]
    assert sweep.load_run(order[0]).run_dir == order[0]
    shown = sweep_cli("show", "grid", cwd=root.parent)
    assert shown.returncode == 0 and "ranked by" in shown.stdout, shown.stderr
    with pytest.raises(SweepError, match="no run folder under"):
        sweep.load_run(results_root=root.parent / "empty")
    with pytest.raises(SweepError, match="missing is not a run folder"):
        sweep.load_run("missing")
