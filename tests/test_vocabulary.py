"""The words of real NumPy-MLP sweep files, read as ours with a warning naming ours (sweep.vocabulary)."""

import pytest
from conftest import sweep_cli, write_experiment

from sweep.config import parse_experiment
from sweep.errors import ConfigError

BASE = {"name": "words", "dataset": "digits", "method": "grid"}


def test_other_tools_words_are_read_as_ours_and_each_is_said():
    experiment = parse_experiment({**BASE, "parameters": {"weight_decay": {"values": ["1e-3", 0]},
                                                          "hidden_size": {"values": ["64", "128"]},
                                                          "activation": {"values": ["ReLU", "Tanh"]}},
                                   "fixed": {"optimizer": "nag", "loss": "cross_entropy", "weight_init": "random"}})
    assert experiment.parameters["reg"].values == (0.001, 0.0)
    assert experiment.parameters["hidden_size"].values == (64, 128)
    assert experiment.parameters["activation"].values == ("relu", "tanh")
    assert (experiment.fixed["optimizer"], experiment.fixed["loss"], experiment.fixed["init"]) == \
        ("nesterov", "softmax", "normal")
    said = "\n".join(experiment.warnings)
    for line in ("weight_decay is read as reg", "hidden_size: the strings '64', '128' are read as numbers",
                 "activation: 'ReLU' is read as 'relu'", "optimizer: 'nag' is read as 'nesterov'",
                 "loss: 'cross_entropy' is read as 'softmax'", "weight_init is read as init",
                 "init: 'random' is read as 'normal'"):
        assert line in said, said


@pytest.mark.parametrize("optimizer, ours", [("momentum", "sgd_momentum"), ("Adam", "adam"), ("NAG", "nesterov")])
def test_optimizer_names(optimizer, ours):
    assert parse_experiment({**BASE, "fixed": {"optimizer": optimizer}}).fixed["optimizer"] == ours


def test_words_with_no_one_meaning_are_still_refused_with_their_did_you_mean():
    with pytest.raises(ConfigError, match="hidden_size: 'sixty' is not a number"):
        parse_experiment({**BASE, "fixed": {"hidden_size": "sixty"}})
    with pytest.raises(ConfigError, match="did you mean `reg`"):
        parse_experiment({**BASE, "fixed": {"l2": 0.1}})  # a synonym for did-you-mean only


def test_a_wandb_file_in_other_words_runs_through_the_command_line(tmp_path):
    write_experiment(tmp_path / "exp.yaml", **{**BASE, "method": "grid",
                                             "parameters": {"hidden_size": {"values": ["16", "32"]}},
                                             "fixed": {"epochs": 1, "optimizer": "momentum", "loss": "cross_entropy",
                                                       "activation": "ReLU", "weight_decay": 1e-4}})
    result = sweep_cli("run", "exp.yaml", "--out", "run", "--no-plots", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "optimizer: 'momentum' is read as 'sgd_momentum'" in result.stderr
    trials = (tmp_path / "run" / "trials.csv").read_text()
    assert "sgd_momentum" in trials and ",relu," in trials
