"""The README and docs/*.md as a reader uses them: every fenced block runs, every link resolves, and a
fresh clone follows the README's first screen.

Each page's blocks run in order in a project folder of their own (a copy of ``experiments/`` and a
small finished run under ``results/``), as a reader who types them one after another:

- ```sh blocks: each command (the lines after ``$ `` when the block shows output, else every line)
  must be ``sweep ...``, ``python -m sweep ...``, ``.venv/bin/sweep ...`` or ``source .venv/bin/activate``,
  and exits 0 (or N when its comment says ``# exits N``); output shown in the block is not compared.
  ``sweep`` is this interpreter's ``python -m sweep`` (``.venv/bin/`` in the project holds it and an
  ``activate`` that puts it on the PATH).
- ```yaml blocks are experiment files, read by ``sweep.config.load_experiment``. A first line
  ``# NAME`` saves the block as NAME in the project (``# exp.yaml``); when NAME is a file of the
  repository (``# experiments/program.yaml``) the block must hold the same data as that file.
- ```python blocks are executed in the project folder, each in a fresh namespace with no command-line
  arguments; a first line ``# NAME.py`` also saves the block as that file (``# nets.py``, which an
  experiment file names).

A block that cannot run here (a long search, ``make test``, a Dask cluster, a synopsis) is preceded
by ``<!-- not run by the tests: REASON -->``, and the reason may not be empty, so a new block cannot go
untested silently.

What only this file knows: to stay fast, every ``sweep run`` gets ``--n-jobs 1 --no-plots
--no-live-report`` and the options of SHRINK for its experiment (fewer epochs and trials). The
commands are otherwise run as written.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from sweep.config import load_experiment
from sweep.errors import SweepError

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP = re.compile(r"^<!--\s*not run by the tests:(.*?)-->\s*$")
RUNNABLE = ("sh", "yaml", "python")
COMMANDS = ("sweep", "python -m sweep", ".venv/bin/sweep", "source .venv/bin/activate")

#: Extra options for the ``sweep run`` of each experiment file the docs run (test-only, to keep this file fast).
SHRINK = {
    "digits.yaml": ["--set", "epochs=2"],
    "exp.yaml": ["--set", "epochs=2"],
    "experiments/default.yaml": ["--set", "epochs=2", "--set", "parameters.hidden_size.values=[16,64]"],
    "experiments/random_search.yaml": ["--set", "epochs=2", "--set", "run_cap=8"],
    "experiments/open_random.yaml": ["--set", "epochs=2", "--max-trials", "6"],
    "experiments/cs231n_model.yaml": ["--set", "epochs=2", "--set", "parameters.hidden_size.values=[50]"],
    "experiments/program.yaml": ["--set", "epochs=4", "--max-trials", "2"],
}


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    body: str
    skip: str | None  # the reason given, None when the block is to run

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def name(self) -> str | None:
        """NAME of a first line ``# NAME`` that names a file (``# nets.py``, ``# experiments/program.yaml (...)``)."""
        first = self.body.split("\n", 1)[0]
        match = re.match(r"#\s+([\w./-]+\.(?:py|yaml|yml))\b", first)
        return match.group(1) if match else None


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` with the skip comment (if any) just before each."""
    lines = page.read_text().split("\n")
    found, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang, start = lines[i][3:].strip(), i
            end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```"), None)
            assert end is not None, f"{page.relative_to(ROOT)}:{i + 1}: a fence that is never closed"
            before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
            match = SKIP.match(before.strip())
            found.append(Block(page, start + 1, lang, "\n".join(lines[start + 1:end]) + "\n",
                               match.group(1).strip() if match else None))
            i = end + 1
        else:
            i += 1
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]


# ------------------------------------------------------------------------------------------ every block accounted for
def test_every_block_runs_or_says_why_not():
    assert len(ALL_BLOCKS) > 20
    for block in ALL_BLOCKS:
        if block.skip is None:
            assert block.lang in RUNNABLE, (
                f"{block.where}: a ```{block.lang} block the tests cannot run: make it ```sh, ```yaml or ```python, "
                "or put <!-- not run by the tests: REASON --> just before it")
        else:
            assert len(block.skip) >= 10, f"{block.where}: say why the block is not run (got {block.skip!r})"


def test_every_skip_comment_stands_just_before_a_block():
    for page in PAGES:
        lines = page.read_text().split("\n")
        for i, line in enumerate(lines):
            if "not run by the tests" in line:
                after = next((other for other in lines[i + 1:] if other.strip()), "")
                assert SKIP.match(line.strip()) and after.startswith("```"), (
                    f"{page.relative_to(ROOT)}:{i + 1}: the comment must be <!-- not run by the tests: REASON --> "
                    "on its own line, just before a block")


def test_the_readme_keeps_its_set_up_commands_and_stays_short():
    text = (ROOT / "README.md").read_text()
    setup = next(b for b in blocks(ROOT / "README.md") if b.lang == "sh")
    assert [shlex.split(line, comments=True) for line in setup.body.splitlines()] == [["make", "sweep"],
                                                                                        ["make", "test"]]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert len(text.splitlines()) <= 200


# ------------------------------------------------------------------------------------------ running the blocks
@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """A finished run of a tiny digits grid (8 trials, 2 epochs), named ``default`` as make sweep's is."""
    folder = tmp_path_factory.mktemp("small-run")
    (folder / "tiny.yaml").write_text(yaml.safe_dump({
        "name": "default", "dataset": {"name": "digits", "val_size": 0.25, "center": "mean_image"},
        "method": "grid", "metric": {"name": "val_acc", "goal": "maximize"},
        "parameters": {"hidden_size": {"values": [16, 32]}, "learning_rate": {"values": [0.1, 0.03]},
                       "reg": {"values": [1e-4, 1e-2]}},
        "fixed": {"epochs": 2, "optimizer": "sgd_momentum", "batch_size": 64, "init": "he"}, "seed": 0}))
    result = subprocess.run([sys.executable, "-m", "sweep", "run", "tiny.yaml", "--out", "results/default/run",
                             "--n-jobs", "1", "--no-plots", "--quiet"], cwd=folder, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr
    return folder / "results" / "default" / "run"


@pytest.fixture
def project(tmp_path, small_run):
    """A reader's folder: the repository's experiments, a finished run, and .venv/bin/{sweep,activate}."""
    shutil.copytree(ROOT / "experiments", tmp_path / "experiments")
    shutil.copytree(small_run, tmp_path / "results" / "default" / "20260101-000000")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "sweep").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sweep "$@"\n')
    (bin_dir / "sweep").chmod(0o755)
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n')
    return tmp_path


def commands(block: Block) -> list[str]:
    lines = [line for line in block.body.splitlines() if line.strip()]
    if any(line.startswith("$ ") for line in lines):
        return [line[2:] for line in lines if line.startswith("$ ")]
    return [line for line in lines if not line.lstrip().startswith("#")]


def run_sh(block: Block, project: Path):
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["PYTHONWARNINGS"] = "ignore"
    env["PATH"] = os.pathsep.join([str(project / ".venv" / "bin"), env.get("PATH", "")])
    sourced: list[str] = []
    for command in commands(block):
        words = shlex.split(command, comments=True)
        line = " ".join(words)
        assert line.startswith(COMMANDS), (
            f"{block.where}: `{command}` is not a command the tests run: "
            "put <!-- not run by the tests: REASON --> before the block")
        if line == "source .venv/bin/activate":
            sourced.append(line)
            continue
        expected = re.search(r"#\s*exits (\d+)\s*$", command)
        args = words[words.index("run") + 1:] if "run" in words[:4] else None
        if args is not None and args and words[0] in ("sweep", ".venv/bin/sweep", "python"):
            words += ["--n-jobs", "1", "--no-plots", "--no-live-report", *SHRINK.get(args[0], [])]
        if words[:3] == ["python", "-m", "sweep"]:
            words[0] = sys.executable
        script = "\n".join([*sourced, shlex.join(words)])
        result = subprocess.run(["bash", "-c", script], cwd=project, env=env, capture_output=True, text=True,
                                timeout=120)
        want = int(expected.group(1)) if expected else 0
        assert result.returncode == want, (
            f"{block.where}: `{command}` exited {result.returncode}, not {want}\n{result.stdout}\n{result.stderr}")


def run_yaml(block: Block, project: Path):
    name = block.name
    if name and (ROOT / name).is_file():
        assert yaml.safe_load(block.body) == yaml.safe_load((ROOT / name).read_text()), (
            f"{block.where}: the block differs from {name}")
        path = project / name
    else:
        path = project / (name or f"block-{block.line}.yaml")
        path.write_text(block.body)
    try:
        load_experiment(path)
    except SweepError as exc:
        pytest.fail(f"{block.where}: not a valid experiment file: {exc}")


def run_python(block: Block, project: Path, monkeypatch):
    if block.name:
        (project / block.name).write_text(block.body)
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", [block.name or "snippet.py"])  # as a script started with no arguments
    exec(compile(block.body, block.where, "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_the_blocks_of(page, project, monkeypatch):
    ran = 0
    for block in blocks(page):
        if block.skip is not None:
            continue
        {"sh": run_sh, "yaml": run_yaml}.get(block.lang, lambda b, p: run_python(b, p, monkeypatch))(block, project)
        ran += 1


# ------------------------------------------------------------------------------------------ links
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"`((?:experiments|bench|sweep|tests|docs|\.ci)/[\w./-]*)`")


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of the headings of ``page``."""
    found = set()
    for line in page.read_text().split("\n"):
        if line.startswith("#") and not line.startswith("#!"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_every_link_is_relative_and_resolves():
    for page in PAGES:
        text = page.read_text()
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert not target.startswith("/"), f"{page.relative_to(ROOT)}: link {target} is absolute"
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.relative_to(ROOT)}: link {target} leads nowhere"
            assert ROOT in file.parents or file == ROOT, (
                f"{page.relative_to(ROOT)}: link {target} leaves the repository")
            if anchor:
                assert anchor in anchors(file), f"{page.relative_to(ROOT)}: link {target}: no heading #{anchor}"


def test_every_repository_path_named_exists():
    for page in PAGES:
        for path in REPO_PATH.findall(page.read_text()):
            if any(mark in path for mark in "*<"):
                continue
            assert (ROOT / path).exists(), f"{page.relative_to(ROOT)}: `{path}` is not in the repository"


def test_every_docs_page_is_reachable_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in LINK.findall((ROOT / "README.md").read_text())}
    linked |= {(ROOT / "docs" / target.partition("#")[0]).resolve()
               for target in LINK.findall((ROOT / "docs" / "README.md").read_text())}
    for page in PAGES[1:]:
        assert page.resolve() in linked, f"{page.relative_to(ROOT)} is linked from neither README.md nor docs/README.md"


# ------------------------------------------------------------------------------------------ a fresh clone
def first_screen_commands(readme: Path) -> list[str]:
    """The commands of the README's first screen: its sh blocks before the first experiment, in order."""
    text = readme.read_text()
    screen = text[:text.index("\n## A first experiment")]
    found = []
    for block in screen.split("```")[1::2]:
        lang, _, body = block.partition("\n")
        if lang.strip() == "sh":
            found += [line for line in body.splitlines() if line.strip()]
    return found


def requirements_met(pyproject: Path) -> list[str]:
    """The requirements of ``pyproject``'s dependencies and test extras that this interpreter's
    environment does not satisfy (empty when ``pip install -e '.[test]'`` would install nothing new)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    project = tomllib.loads(pyproject.read_text())["project"]
    unmet = []
    for text in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        requirement = Requirement(text)
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            unmet.append(text)
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            unmet.append(text)
    return unmet


@pytest.mark.slow
def test_a_fresh_clone_follows_the_readmes_first_screen(tmp_path):
    """git clone, then the commands of the README's first screen as written, in bash, in the clone.

    The clone is of the repository's committed state (HEAD of this branch), as a newcomer gets it.

    ``make sweep`` would create ``.venv`` and ``pip install -e '.[test]'`` from PyPI: minutes, and the
    network, which the test suite does not use. So the clone's ``.venv`` is a symbolic link to the
    environment running these tests, and only when that environment satisfies every requirement of the
    clone's pyproject.toml (else the test skips: the real fresh install is CI's, which runs
    ``.ci/run`` on a clean clone). Two things stand in for the install: the clone's pyproject.toml is
    dated before the environment's install stamp (``.venv/.installed``), so make sees it installed;
    and PYTHONPATH is the clone, as the editable install ``make sweep`` makes in the clone would
    point Python at the clone's code. Nothing else is set up: the venv is not activated (its bin/ is
    taken off the PATH) unless a command of the README does it. ``make sweep`` runs in full; ``make
    test`` runs the Makefile's real command on one test (PYTEST_ADDOPTS names it), since the whole
    suite takes minutes.
    """
    venv = Path(sys.prefix)
    stamp = venv / ".installed"
    if sys.prefix == sys.base_prefix or not (venv / "bin" / "sweep").exists() or not stamp.exists():
        pytest.skip("the tests do not run in a .venv that make made")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, capture_output=True, timeout=60)
    unmet = requirements_met(clone / "pyproject.toml")
    if unmet:
        pytest.skip(f"this environment lacks {unmet}: make would install them from the network")
    (clone / ".venv").symlink_to(venv)
    before = stamp.stat().st_mtime - 60
    os.utime(clone / "pyproject.toml", (before, before))

    path = [entry for entry in os.environ.get("PATH", "").split(os.pathsep)
            if entry and Path(entry).resolve() != (venv / "bin").resolve()]
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PATH=os.pathsep.join(path), PYTHONPATH=str(clone), PYTHONWARNINGS="ignore",
               PYTEST_ADDOPTS="tests/test_first_hour.py::test_version_is_the_packages -p no:cacheprovider")
    assert subprocess.run(["bash", "-c", "command -v sweep"], env=env, capture_output=True).returncode != 0, (
        "sweep is on the PATH before the README says to activate anything")

    screen = first_screen_commands(clone / "README.md")
    assert [shlex.split(command, comments=True) for command in screen[:2]] == [["make", "sweep"], ["make", "test"]]
    sourced: list[str] = []
    for command in screen:
        if command.startswith("source "):
            sourced.append(command)
            continue
        result = subprocess.run(["bash", "-c", "\n".join([*sourced, command])], cwd=clone, env=env,
                                capture_output=True, text=True, timeout=240)
        assert result.returncode == 0, (
            f"`{command}` exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        if command.startswith("make sweep"):
            assert "run folder: results/default/" in result.stdout
        if command.startswith("make test"):
            assert "1 passed" in result.stdout
        if command.endswith("show") or "show " in command:
            assert "ranked by val_acc" in result.stdout
    assert len(screen) >= 5 and sourced == ["source .venv/bin/activate"]
