"""The command line: ``sweep run | list | show | best | importance | compare | plot | report | gradcheck | data fetch``.

User errors (bad experiment file, missing data, bad values) print one line on stderr and exit with
status 2. ``sweep run`` exits 0 when every trial ran (diverged included), 1 when any failed or
crashed, 130 when interrupted. ``sweep gradcheck`` exits 1 when a gradient is wrong. A command whose
output pipe was closed by its reader (``sweep best | head``) finishes quietly and exits 141, the status
a shell reports for a tool killed by SIGPIPE (see :mod:`sweep.pipes`).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from . import interrupts, pipes
from .errors import SweepError
from .results.files import BEST_DIR, ERRORS_DIR, MODEL_FILE, TRIALS_FILE

EXIT_OK, EXIT_TRIALS_FAILED, EXIT_USER_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_GRADIENT_WRONG = 1  # sweep gradcheck
RESULTS_ROOT = Path("results")
#: Trials ``sweep list`` shows of a search that chooses them as it goes.
LIST_PREVIEW = 20


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="sweep", description="Hyperparameter sweeps for small NumPy networks.")
    parser.add_argument("--version", action="version", version=f"sweep {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run (or resume) the sweep of an experiment file")
    run.add_argument("experiment", type=Path, help="experiment YAML file")
    run.add_argument("--n-jobs", type=int,
                     help="worker processes, -1 for one per core (default: the experiment's n_jobs, else one per core)")
    run.add_argument("--backend", choices=("loky", "dask", "dask-local"),
                     help="where trials run: loky processes here (default), an existing dask cluster, or a "
                          "dask-local cluster started on this machine")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="the Dask scheduler to run on, e.g. tcp://10.0.0.5:8786 (implies --backend dask)")
    run.add_argument("--scheduler-file", metavar="FILE",
                     help="the file `dask scheduler --scheduler-file FILE` wrote (implies --backend dask)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a key (dotted for nested keys; a hyperparameter name fixes it); repeatable")
    run.add_argument("--resume", nargs="?", const=True, default=False, metavar="RUN_DIR",
                     help="continue the latest (or the given) run of this experiment")
    run.add_argument("--retry-failed", action="store_true",
                     help="with --resume: run the failed and crashed trials again")
    run.add_argument("--out", type=Path, help="run folder to write (default results/<name>/<time>/)")
    run.add_argument("--results", type=Path, default=RESULTS_ROOT, help="root of run folders (default: results)")
    run.add_argument("--quiet", action="store_true", help="no progress and no leaderboard")
    run.add_argument("--no-plots", action="store_true", help="do not draw plots and the report at the end")
    run.add_argument("--no-live-report", action="store_true",
                     help="do not write report.html while the sweep runs (only at the end)")
    run.add_argument("--max-trials", type=int, metavar="N",
                     help="stop after N trials in the run (the end of an open-ended search; --resume goes on)")
    run.add_argument("--check-best", action="store_true",
                     help="also retrain the best trial and check that its weights are bitwise the ones it trained "
                          "(best/summary.json: reproduced)")
    run.add_argument("--time-limit", metavar="DURATION",
                     help="start no trial after DURATION (e.g. 45s, 30m, 2h); trials in flight stop at their next "
                          "epoch; then the best model is chosen as usual (default: the experiment's time_limit)")

    lst = sub.add_parser("list", help="print the planned trials without training anything")
    lst.add_argument("experiment", type=Path)
    lst.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    for name, text in (("show", "print the leaderboard of a run"), ("best", "print the best trial of a run"),
                       ("importance", "print how much of the metric each searched parameter explains (fANOVA)"),
                       ("plot", "draw the plots of a run into RUN_DIR/plots/"),
                       ("report", "write RUN_DIR/report.html")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("run_dir", nargs="?", type=Path, help="run folder (default: the most recent run)")
        cmd.add_argument("--results", type=Path, default=RESULTS_ROOT, help=argparse.SUPPRESS)
        if name == "show":
            cmd.add_argument("--top", type=int, default=20, help="rows to show (default 20)")
            cmd.add_argument("--sort", help="column to sort by (default: the experiment's metric)")

    compare = sub.add_parser("compare", help="print two or more runs side by side (and write a page with --html)",
                             description="The runs side by side: experiment, method, metric, trials, the best trial, "
                                         "its settings (those that differ between the runs' best trials marked *) "
                                         "and which run's best is better, when they rank by the same metric.")
    compare.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR", help="two or more run folders")
    compare.add_argument("--html", type=Path, metavar="OUT.html",
                         help="also write a self-contained page with the table and the runs' best so far in one "
                              "figure (default: print only)")

    grad = sub.add_parser("gradcheck", help="check a model's gradients against centered differences (float64)",
                          description="Compare each parameter's gradient from loss(X, y) with centered differences "
                                      "on a few random rows, in float64 (CS231n's check). Exit 0 when every "
                                      "relative error is below 1e-6, 1 when one is above (a wrong gradient), "
                                      "2 when the model cannot be built or breaks the model contract.")
    grad.add_argument("ref", metavar="MODEL",
                      help="FILE.py:Class (relative to the current folder) or package.module:Class, as the model: key")
    grad.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                      help="a constructor hyperparameter (input_dim and num_classes size the random problem, "
                           "default 12 and 4); repeatable")
    grad.add_argument("--rows", type=int, default=5, help="random rows of the problem (default 5)")
    grad.add_argument("--seed", type=int, default=0,
                      help="seeds the weights, the rows and the dropout masks (default 0)")

    data = sub.add_parser("data", help="data set utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = data_sub.add_parser("fetch", help="download a data set's official files and check their SHA-256")
    fetch.add_argument("name", help="mnist, fashion-mnist or cifar10")
    fetch.add_argument("--dir", type=Path, help="destination (default ./data/NAME/)")
    fetch.add_argument("--base-url", help="mirror to download from instead of the official host")
    _describe_each(sub)
    _describe_each(data_sub)
    return parser


def _describe_each(subparsers) -> None:
    """Each subcommand's ``--help`` page opens with the line ``sweep --help`` lists it with."""
    for action in subparsers._choices_actions:
        page = subparsers.choices[action.dest]
        if not page.description:
            page.description = action.help[:1].upper() + action.help[1:] + "."


def main(argv: list[str] | None = None) -> int:
    """Run one command; every user error is one line on stderr and status 2, an interrupt one line and 130;
    output cut short by its reader (``sweep best | head``) is dropped quietly and the status is 141."""
    with pipes.output_may_be_cut():
        status = _main(argv)
    return pipes.EXIT_OUTPUT_CUT if status == EXIT_OK and pipes.output_was_cut() else status


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    command = {"run": cmd_run, "list": cmd_list, "show": cmd_show, "best": cmd_best,
               "importance": cmd_importance, "compare": cmd_compare, "plot": cmd_plot,
               "report": cmd_report, "gradcheck": cmd_gradcheck, "data": cmd_data}[args.command]
    with interrupts.handled(), interrupts.output_outlives_the_terminal():  # a closed terminal is an interrupt too
        try:
            status = command(args)
            interrupts.check()  # an interrupt some library swallowed still ends the command as one
            return status
        except SweepError as exc:
            print(f"sweep: error: {exc}", file=sys.stderr)
            return EXIT_USER_ERROR
        except OSError as exc:  # the machine's, not the code's: a full disk, a missing permission
            where = f" ({exc.filename})" if exc.filename else ""
            print(f"sweep: error: {exc.strerror or exc}{where}", file=sys.stderr)
            return EXIT_USER_ERROR
        except MemoryError:
            print("sweep: error: out of memory; lower n_jobs, hidden_size or the data set's size", file=sys.stderr)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            interrupts.acknowledge()
            print("sweep: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED


def _experiment(args):
    from .config import load_experiment

    return load_experiment(args.experiment, args.overrides, _backend_options(args))


def _backend_options(args) -> list[tuple[str, object, str]]:
    """The experiment keys that --backend, --scheduler and --scheduler-file set (they win over the file)."""
    backend, scheduler, scheduler_file = (getattr(args, name, None) for name in
                                          ("backend", "scheduler", "scheduler_file"))
    if scheduler is not None and scheduler_file is not None:
        raise SweepError("--scheduler and --scheduler-file both name a scheduler; give one")
    given = scheduler is not None or scheduler_file is not None  # even empty: the check below says so
    options = []
    if given:  # replaces the file's scheduler, whichever way the file gave it
        label = (f"--scheduler {shlex.quote(scheduler)}" if scheduler is not None
                 else f"--scheduler-file {shlex.quote(scheduler_file)}")
        options += [("scheduler", scheduler, label), ("scheduler_file", scheduler_file, label)]
        if backend is None:
            options.append(("backend", "dask", label))
    if backend is not None:
        options.append(("backend", backend, f"--backend {backend}"))
        if backend != "dask" and not given:  # the file's scheduler does not apply
            options += [("scheduler", None, f"--backend {backend}"), ("scheduler_file", None, f"--backend {backend}")]
    return options


def cmd_run(args) -> int:
    from .config import cpu_count

    experiment = _experiment(args)  # before the heavy imports: a bad file is reported at once
    if args.n_jobs is not None and args.n_jobs < 1 and args.n_jobs != -1:
        raise SweepError(f"--n-jobs {args.n_jobs}: must be >= 1, or -1 for one per core")
    n_jobs = cpu_count() if args.n_jobs == -1 else args.n_jobs
    if args.max_trials is not None and args.max_trials < 1:
        raise SweepError(f"--max-trials {args.max_trials}: must be >= 1")
    from .durations import time_limit_of

    time_limit = time_limit_of(args.time_limit, "--time-limit")
    resume = args.resume is not False
    if args.retry_failed and not resume:
        raise SweepError("--retry-failed works with --resume: it re-runs the failed trials of an earlier run")
    run_dir = args.out
    if isinstance(args.resume, str):
        if args.out and Path(args.resume) != args.out:
            raise SweepError("--resume RUN_DIR and --out DIR name different folders; give one")
        run_dir = Path(args.resume)
    command = "sweep " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None
    resume_hint = f"sweep run {shlex.quote(str(args.experiment))} --resume " + "{run_dir}"
    from .runner import run_sweep

    outcome = run_sweep(experiment, run_dir=run_dir, results_root=args.results, resume=resume,
                        retry_failed=args.retry_failed, n_jobs=n_jobs, quiet=args.quiet, command=command,
                        max_trials=args.max_trials, time_limit=time_limit, check_best=args.check_best,
                        keep_workers=False,  # this process exits after the report: workers need not wait
                        live_report=not (args.no_plots or args.no_live_report))
    finished = sum(outcome.counts.values())
    if outcome.interrupted:
        if outcome.open_ended:
            what = f"{finished} trials of an open-ended search are recorded"
        elif finished < outcome.total:
            what = f"{finished} of {outcome.total} trials are recorded"
        else:
            what = f"all {outcome.total} trials are recorded, the best model is not saved yet"
        print(f"\ninterrupted: {what} in {outcome.run_dir}\n"
              f"resume with: {resume_hint.format(run_dir=shlex.quote(str(outcome.run_dir)))}", file=sys.stderr)
        interrupts.acknowledge()  # a second Ctrl-C during the clean-up is part of this interrupt
        return EXIT_INTERRUPTED
    if not outcome.ran and not outcome.finalized and not args.quiet:
        print(f"nothing to do: all {outcome.total} trials of {outcome.run_dir} are already recorded",
              file=sys.stderr)
    try:
        if not args.no_plots:
            write_plots_and_report(outcome.run_dir, quiet=args.quiet)
        if not args.quiet:
            _show(outcome.run_dir, top=10, sort=None)
            print(f"run folder: {outcome.run_dir}")
        interrupts.check()
    except KeyboardInterrupt:
        interrupts.acknowledge()
        print(f"\ninterrupted while writing the report; the run is complete in {outcome.run_dir}\n"
              f"redraw with: sweep report {shlex.quote(str(outcome.run_dir))}", file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = outcome.counts.get("failed", 0) + outcome.counts.get("crashed", 0)
    if failed:  # said even with --quiet: the exit status alone does not say where to look
        where = (f"their output is in {outcome.run_dir / 'logs'}/" if (outcome.run_dir / "logs").is_dir() else
                 f"their tracebacks are in {outcome.run_dir / ERRORS_DIR}/")
        print(f"sweep: {failed} of {outcome.total} trials failed or crashed; {where}", file=sys.stderr)
    return EXIT_OK if outcome.all_ran else EXIT_TRIALS_FAILED


def write_plots_and_report(run_dir: Path, quiet: bool) -> None:
    """The plots and the report at the end of a run; a failure is a warning (the trials are recorded)."""
    from .report import write_report

    try:
        # A KeyboardInterrupt raised at any bytecode may land in one of matplotlib's finalizers,
        # where Python prints it and drops it: a Ctrl-C now is acted on between two figures.
        with interrupts.deferred():
            path = write_report(run_dir)
    except (OSError, SweepError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"sweep: warning: could not write the plots and the report: {reason}; every trial is recorded: "
              f"redraw them with: sweep report {shlex.quote(str(run_dir))}", file=sys.stderr)
        return
    if not quiet:
        print(f"report: {path}", file=sys.stderr)


def cmd_list(args) -> int:
    from .plan import fuse_tasks, group_tasks
    from .strategies import make_strategy

    experiment = _experiment(args)
    for warning in experiment.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    strategy = make_strategy(experiment)
    trials = strategy.plan() if strategy.planned_in_advance else strategy.preview(LIST_PREVIEW)
    tasks = group_tasks(trials)
    searched = list(experiment.parameters)
    columns = ["#", "trial_id", *searched, "seed"] + (["repeat"] if experiment.repeats > 1 else [])
    rows = [[str(t.index), t.trial_id, *(_fmt(t.params[p]) for p in searched), str(t.seed)]
            + ([str(t.repeat)] if experiment.repeats > 1 else []) for t in trials]
    print(_table(columns, rows))
    fixed = ", ".join(f"{k}={_fmt(v)}" for k, v in experiment.fixed.items())
    data = experiment.dataset if experiment.program is None else "the program's own data"
    if strategy.planned_in_advance:
        configurations = len({t.config_id for t in trials})
        draws = len(trials) // experiment.repeats
        again = f"; {draws - configurations} drawn again, run with new seeds" if draws > configurations else ""
        print(f"\n{len(trials)} trials ({experiment.method}, {configurations} configurations x "
              f"{experiment.repeats} seed(s){again}) in {len(tasks)} training runs on {data}")
        if experiment.fuse > 1:
            groups = fuse_tasks(tasks, experiment.fuse, experiment.seed)
            sizes = [len(g.members) for g in groups if g.members]
            print(f"fuse {experiment.fuse}: {sum(sizes)} of the {len(tasks)} training runs train in {len(sizes)} "
                  f"fused group(s) of {'/'.join(map(str, sizes)) or '-'} runs; {len(groups) - len(sizes)} train alone")
    else:
        print(f"\nthe first {len(trials)} trials of {_describe_search(experiment)} on {data}")
    if fixed:
        print(f"fixed: {fixed}")
    return EXIT_OK


def _describe_search(experiment) -> str:
    """What an adaptive or open-ended search does, in a phrase."""
    if experiment.open_ended:
        return (f"an open-ended {experiment.method} search ({experiment.repeats} seed(s) per configuration): it runs "
                "until stopped (Ctrl-C, --max-trials N, --time-limit or time_limit:), and --resume continues it")
    return f"a {experiment.method} search of {experiment.run_cap} configurations x {experiment.repeats} seed(s)"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def find_run_dir(run_dir: Path | None, results_root: Path = RESULTS_ROOT) -> Path:
    """The run folder a reading command means (see :func:`sweep.results.folders.find_run`)."""
    from .results.folders import find_run

    return find_run(run_dir, results_root)


def _warn(problems: list[str]) -> None:
    for problem in problems:
        print(f"sweep: warning: {problem}", file=sys.stderr)


def _print_leaderboard(run, top: int, sort: str | None) -> None:
    """The leaderboard of a :class:`~sweep.results.Run` on stdout."""
    import pandas as pd

    if run.trials.empty:
        print("no trial has finished yet")
        return
    try:
        board = run.leaderboard(sort=sort)
    except KeyError:
        columns = run.leaderboard().columns
        names = sorted({c.removesuffix("_mean") for c in columns if c not in ("rank", "config_id")})
        raise SweepError(f"--sort {sort}: no such column; try one of {', '.join(names)}") from None
    from .results.uncertainty import describe

    if not (board["runs"] > 1).any():
        board = board.drop(columns=[f"{run.metric}_std", "runs", "ok"])
    if "tied" in board:  # a mark, not True/False
        board = board.assign(tied=board["tied"].map({True: "~", False: ""}))
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(board.head(top).drop(columns=["config_id"]).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    shown = min(top, len(board))
    print(f"({shown} of {len(board)} configurations, {len(run.trials)} trials, ranked by {run.metric})")
    repeats = int(board["runs"].max()) if "runs" in board else 1
    print(describe(run.metric, run.val_rows, repeats, program="program_parameters" in run.experiment,
                   ascii=True))


def _program_best(run) -> dict | None:
    """A program sweep's best trial (it saves no model): its id, metric, parameters and folder."""
    if "program_parameters" not in run.experiment or run.best_id is None:
        return None
    row = run.trials[run.trials["trial_id"] == run.best_id].iloc[0]
    params = {name: (row[name].item() if hasattr(row[name], "item") else row[name])
              for name in run.experiment["program_parameters"] if name in row}
    return {"trial_id": run.best_id, "metric": {"name": run.metric, "value": float(row[run.metric])},
            "status": row["status"], "steps": int(row["steps"]), "params": params,
            "folder": str(run.run_dir / "trials" / run.best_id), "log": str(run.run_dir / "logs" / f"{run.best_id}.log")}


def _ensemble_line(run_dir: Path) -> dict | None:
    """What ``sweep best`` shows of the run's ensemble (best/ensemble.json): its validation and test
    accuracy and its members' weights; None when it has none. A record that is damaged or not this
    run's ensemble (see :func:`~sweep.ensemble.ensemble_problem`) is a warning."""
    from .ensemble import proven_record

    record, problem = proven_record(run_dir)
    if problem:
        _warn([f"{run_dir / BEST_DIR}: {problem}; its ensemble is not shown"])
    if record is None:
        return None
    return {"val_acc": record.get("val_acc"), "test_acc": record.get("test_acc"), "size": record.get("size"),
            "members": {m.get("trial_id"): m.get("weight") for m in record["members"] if isinstance(m, dict)},
            "file": str(run_dir / BEST_DIR / "ensemble.npz")}


def _print_best(run) -> None:
    program = _program_best(run)
    if program is not None:
        print(f"best trial {program['trial_id']}: {run.metric} {program['metric']['value']:.4g}; its files: "
              f"{program['folder']}")
        return
    s = run.best
    if s is None:
        return
    test = (f"test_acc {s['test_acc']:.4f}" if s.get("test_acc") is not None else
            f"test_loss {s['test_loss']:.4g}" if s.get("test_loss") is not None else "no test score")
    value = s["metric"]["value"]
    shown = f"{value:.4f}" if value is not None else "n/a"
    print(f"best trial {s['trial_id']}: {s['metric']['name']} {shown}, {test} "
          f"(measured once on {s.get('test_rows', '?')} test rows); weights: {run.run_dir / BEST_DIR / MODEL_FILE}")
    ensemble = _ensemble_line(run.run_dir)
    if ensemble is not None and ensemble["val_acc"] is not None and ensemble["test_acc"] is not None:
        print(f"ensemble of {len(ensemble['members'])} trial(s): val_acc {ensemble['val_acc']:.4f}, test_acc "
              f"{ensemble['test_acc']:.4f} (single best: val_acc {s['val_acc']:.4f}); weights: {ensemble['file']}"
              if s.get("val_acc") is not None else
              f"ensemble of {len(ensemble['members'])} trial(s): val_acc {ensemble['val_acc']:.4f}, test_acc "
              f"{ensemble['test_acc']:.4f}; weights: {ensemble['file']}")


def _show(run_dir: Path, top: int, sort: str | None) -> None:
    """The leaderboard and the best trial of a run, after a warning for each damaged part."""
    from .results import load_run

    run = load_run(run_dir)
    _warn(run.notes)
    _print_leaderboard(run, top, sort)
    _print_best(run)


def cmd_show(args) -> int:
    if args.top < 1:
        raise SweepError(f"--top {args.top}: must be >= 1")
    _show(find_run_dir(args.run_dir, args.results), top=args.top, sort=args.sort)
    return EXIT_OK


def cmd_best(args) -> int:
    from .results.records import read_experiment_document, read_summary

    run_dir = find_run_dir(args.run_dir, args.results)
    summary = read_summary(run_dir)
    if summary is None and "program_parameters" in read_experiment_document(run_dir):  # a program's: no model
        from .results import load_run

        summary = _program_best(load_run(run_dir))
    if summary is None:
        raise SweepError(f"{run_dir} has no best model yet (the run has not finished, or no trial finished ok)")
    ensemble = _ensemble_line(run_dir)
    if ensemble is not None:  # beside the single best's figures, in the same JSON
        summary = {**summary, "ensemble": ensemble}
    print(json.dumps(summary, indent=2))
    return EXIT_OK


#: Characters of the bar of a parameter that explains everything.
BAR_WIDTH = 30


def cmd_importance(args) -> int:
    from .results import load_run
    from .results.importance import describe

    run = load_run(find_run_dir(args.run_dir, args.results))
    _warn(run.notes)
    importance = run.importance()
    _warn(importance.attrs.get("notes", []))
    width = max(len("parameter"), *(len(str(name)) for name in importance.index))
    print(f"{'parameter'.ljust(width)}  importance")
    for name, share in importance.items():
        print(f"{str(name).ljust(width)}  {100 * share:9.1f}%  {'#' * int(round(BAR_WIDTH * share))}".rstrip())
    print(describe(importance))
    return EXIT_OK


def cmd_compare(args) -> int:
    from .results import load_run
    from .results.compare import compare_runs

    if len(args.run_dirs) < 2:
        raise SweepError(f"sweep compare needs two or more run folders, got {len(args.run_dirs)}")
    run_dirs = [find_run_dir(d) for d in args.run_dirs]
    seen = {}
    for run_dir in run_dirs:
        key = run_dir.resolve()
        if key in seen:
            names = f" (as {seen[key]} and {run_dir})" if str(seen[key]) != str(run_dir) else ""
            raise SweepError(f"the run {run_dir} is given twice{names}; compare different runs")
        seen[key] = run_dir
    if args.html is not None:  # before reading the runs: a page that cannot be written is said at once
        from .compare_page import check_page_path

        check_page_path(args.html)
    runs = [load_run(d) for d in run_dirs]
    for run in runs:
        _warn(run.notes)
    comparison = compare_runs(runs)
    _print_comparison(comparison)
    if args.html is not None:
        from .compare_page import write_page

        with interrupts.deferred():  # as in write_plots_and_report: a Ctrl-C lands between matplotlib's steps, not inside one
            path = write_page(comparison, runs, args.html)
        print(f"comparison page: {path}", file=sys.stderr)
    return EXIT_OK


def _print_comparison(comparison) -> None:
    """The runs side by side, the settings of their best trials (* where they differ), then the verdict."""
    labels = [r.label for r in comparison.runs]
    table = comparison.table()
    rows = [[f"  {name}", *map(str, row)] for name, row in table.iterrows()]
    settings = []
    for name, row in comparison.settings.iterrows():
        searched = row["searched"].split(",")
        cells = ["-" if row[label] is None else _fmt(row[label]) + ("" if label in searched else " (fixed)")
                 for label in labels]
        settings.append([("* " if row["differs"] else "  ") + str(name), *cells])
    width = [max(len(r[i]) for r in [["", *labels], *rows, *settings]) for i in range(len(labels) + 1)]

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, width)).rstrip()

    print(line(["", *labels]))
    print("\n".join(line(r) for r in rows))
    if settings:
        print("best trial's settings (* differs between the best trials; (fixed): not searched in that run)")
        print("\n".join(line(r) for r in settings))
    for note in comparison.notes:
        print(f"note: {note}")
    print(comparison.verdict)


def cmd_plot(args) -> int:
    from .figures import draw_all
    from .results import load_run

    run_dir = find_run_dir(args.run_dir, args.results)
    run = load_run(run_dir)
    _warn(run.notes)
    try:
        paths = draw_all(run_dir, run=run)
    except OSError as exc:
        raise SweepError(f"cannot write the plots of {run_dir}: {exc.strerror or exc}") from None
    for path in paths:
        print(path)
    return EXIT_OK


def cmd_report(args) -> int:
    from .report import write_report

    run_dir = find_run_dir(args.run_dir, args.results)
    try:
        path = write_report(run_dir)
    except OSError as exc:
        raise SweepError(f"cannot write the report of {run_dir}: {exc.strerror or exc}") from None
    print(path)
    return EXIT_OK


def cmd_gradcheck(args) -> int:
    from .models.gradcheck import run_gradcheck

    check = run_gradcheck(args.ref, args.overrides, rows=args.rows, seed=args.seed)
    print("\n".join(check.lines()))
    return EXIT_OK if check.ok else EXIT_GRADIENT_WRONG


def cmd_data(args) -> int:
    from .data import fetch

    for path in fetch(args.name, args.dir, base_url=args.base_url):
        print(path)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
