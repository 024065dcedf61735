"""A sweep run from a real Jupyter kernel (ipykernel, driven by nbclient as Jupyter runs a notebook):
``sweep.run_experiment`` shows tqdm's notebook bar (a widget), not terminal text, and returns the run."""

from __future__ import annotations

import json

import ipykernel  # noqa: F401 - the kernel nbclient starts (test extras)
import ipywidgets  # noqa: F401 - what tqdm's notebook bar is drawn with
import nbclient
import nbformat
from conftest import write_experiment

WIDGET = "application/vnd.jupyter.widget-view+json"


def test_a_sweep_in_a_notebook_shows_a_widget_bar_and_returns_the_run(tmp_path):
    write_experiment(tmp_path / "exp.yaml", name="nb", dataset={"name": "digits"}, method="grid",
                     parameters={"hidden_size": {"values": [8, 16]}},
                     fixed={"epochs": 1, "batch_size": 64}, ensemble=False)
    cell = ("import sweep\n"
            "run = sweep.run_experiment('exp.yaml', n_jobs=1, out='run', report=False)\n"
            "print('trials', len(run.trials), sorted(set(run.trials.status)))")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    client = nbclient.NotebookClient(notebook, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = notebook.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "trials 2 ['ok']" in text, json.dumps(outputs)[:2000]
    widgets = [o for o in outputs if o.get("output_type") == "display_data" and WIDGET in o.get("data", {})]
    assert widgets, f"no widget bar among the outputs: {json.dumps(outputs)[:2000]}"
    assert "[1/2]" not in text  # the bar, not the plain line per trial of a pipe
