"""Search spaces: W&B distributions, their ranges and scales, grid order and seeded random draws."""

import math

import numpy as np
import pytest

from sweep.space import DISTRIBUTIONS, SpaceError, grid, grid_size, parse_distribution, random_draws


def draws(spec, n=4000, seed=0):
    dist = parse_distribution(spec)
    rng = np.random.default_rng(seed)
    return dist, np.array([dist.sample(rng) for _ in range(n)])


def test_every_wandb_distribution_is_known():
    for name in ("constant", "categorical", "int_uniform", "uniform", "log_uniform", "log_uniform_values",
                 "q_uniform", "q_log_uniform_values", "normal", "log_normal", "q_log_uniform",
                 "inv_log_uniform_values", "q_normal", "q_log_normal", "beta"):
        assert name in DISTRIBUTIONS


@pytest.mark.parametrize("spec, kind", [
    ({"values": [1, 2]}, "categorical"),
    ({"value": 3}, "constant"),
    ({"min": 1, "max": 5}, "int_uniform"),
    ({"min": 0.1, "max": 0.5}, "uniform"),
    ({"min": 1, "max": 5.0}, "uniform"),
    ({"mu": 0.0, "sigma": 2.0}, "normal"),
])
def test_kind_is_inferred_as_wandb_does(spec, kind):
    assert parse_distribution(spec).kind == kind


def test_uniform_range():
    _, x = draws({"distribution": "uniform", "min": -2.0, "max": 3.0})
    assert x.min() >= -2 and x.max() <= 3
    assert abs(x.mean() - 0.5) < 0.1


def test_int_uniform_includes_both_ends():
    _, x = draws({"distribution": "int_uniform", "min": 2, "max": 5})
    assert set(x.tolist()) == {2, 3, 4, 5}
    assert all(isinstance(v, int) for v in x.tolist())


def test_log_uniform_values_is_uniform_in_log_space():
    dist, x = draws({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1})
    assert dist.is_log
    assert x.min() >= 1e-4 and x.max() <= 1e-1
    # Each decade gets about a third of the draws; a linear uniform would put 90% in the top decade.
    decades = np.histogram(np.log10(x), bins=[-4, -3, -2, -1])[0] / len(x)
    np.testing.assert_allclose(decades, 1 / 3, atol=0.04)


def test_log_uniform_bounds_are_natural_log_exponents():
    dist, x = draws({"distribution": "log_uniform", "min": math.log(1e-3), "max": math.log(1.0)})
    assert dist.is_log and dist.support() == pytest.approx((1e-3, 1.0))
    assert x.min() >= 1e-3 and x.max() <= 1.0
    assert abs(np.median(np.log(x)) - math.log(10 ** -1.5)) < 0.15


def test_q_uniform_and_q_log_uniform_values_are_quantized():
    _, x = draws({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25})
    assert set(np.round(x, 12).tolist()) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    dist, h = draws({"distribution": "q_log_uniform_values", "min": 16, "max": 512, "q": 8})
    assert dist.is_log and all(isinstance(v, int) and v % 8 == 0 for v in h.tolist())
    assert h.min() >= 16 and h.max() <= 512


def test_normal_and_log_normal():
    _, x = draws({"distribution": "normal", "mu": 2.0, "sigma": 0.5})
    assert abs(x.mean() - 2.0) < 0.05 and abs(x.std() - 0.5) < 0.05
    dist, y = draws({"distribution": "log_normal", "mu": -3.0, "sigma": 1.0})
    assert dist.is_log and y.min() > 0
    assert abs(np.log(y).mean() + 3.0) < 0.1


def test_inverse_log_uniform_values_lie_between_min_and_max_as_in_wandb():
    # W&B: log(1/X) is uniform between log(1/max) and log(1/min), so X lies in [min, max]
    dist, x = draws({"distribution": "inv_log_uniform_values", "min": 10.0, "max": 1000.0})
    assert x.min() >= 10 and x.max() <= 1000 and dist.support() == (10.0, 1000.0)
    decades = np.histogram(np.log10(1 / x), bins=[-3, -2, -1])[0] / len(x)
    np.testing.assert_allclose(decades, 1 / 2, atol=0.04)


def test_inverse_log_uniform_takes_exponents():
    dist, x = draws({"distribution": "inv_log_uniform", "min": 0.0, "max": math.log(100.0)})
    assert dist.support() == pytest.approx((0.01, 1.0)) and x.min() >= 0.01 and x.max() <= 1.0


@pytest.mark.parametrize("low, high, q, expected", [
    (16, 1024, 16, list(range(16, 1024, 16))),  # W&B: np.arange(min, max, q) excludes max
    (0.05, 0.5, 0.1, [0.05, 0.15, 0.25, 0.35, 0.45]),  # min not a multiple of q: values are not rounded to q
    (1.0, 1.3, 0.1, [1.0, 1.1, 1.2, 1.3]),  # np.arange's float noise reaches max: kept at max, not above
    (0, 1, 0.25, [0.0, 0.25, 0.5, 0.75]),
])
def test_q_uniform_grid_is_wandbs_arange_and_stays_in_range(low, high, q, expected):
    dist = parse_distribution({"distribution": "q_uniform", "min": low, "max": high, "q": q})
    values = dist.grid_values()
    assert list(values) == pytest.approx(expected) and dist.grid_count() == len(expected)
    assert all(low <= v <= high for v in values) and len(set(values)) == len(values)
    assert dist.grid_ends() == (values[0], values[-1])


def test_guarded_draws_redraw_values_the_parameter_refuses():
    space = {"m": parse_distribution({"distribution": "uniform", "min": 0.0, "max": 1.0})}
    kept = random_draws(space, 50, seed=1, accept=lambda name, v: v >= 0.5)
    assert len(kept) == 50 and all(c["m"] >= 0.5 for c in kept)
    assert kept == random_draws(space, 50, seed=1, accept=lambda name, v: v >= 0.5)  # still reproducible
    with pytest.raises(SpaceError, match="100 draws in a row"):
        random_draws(space, 1, seed=1, accept=lambda name, v: False)


def test_categorical_with_probabilities():
    _, x = draws({"values": ["a", "b"], "probabilities": [0.9, 0.1]})
    assert abs(np.mean(x == "a") - 0.9) < 0.03


@pytest.mark.parametrize("spec, message", [
    ({"values": []}, "empty"),
    ({"values": 0.1}, "wrapped in a list"),
    (0.1, "value: 0.1"),
    ([1, 2], "values: [1, 2]"),
    ({"distribution": "uniform", "min": 2.0, "max": 1.0}, "is greater than max"),
    ({"distribution": "log_uniform_values", "min": 0.0, "max": 1.0}, "min > 0"),
    ({"distribution": "lognormal"}, "did you mean `log_normal`"),
    ({"distribution": "uniform", "min": 0.0}, "needs `max`"),
    ({"distribution": "uniform", "min": 0.0, "max": 1.0, "q": 2}, "does not apply"),
    ({"distribution": "int_uniform", "min": 0.5, "max": 3}, "integer"),
    ({"values": [1, 2], "probabilities": [0.5, 0.6]}, "summing to 1"),
    ({"foo": 1}, "gives no"),
])
def test_bad_blocks_are_refused_with_a_reason(spec, message):
    with pytest.raises(SpaceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_distribution(spec)


def test_grid_is_the_product_in_declared_order_last_fastest():
    space = {"b": parse_distribution({"values": [1, 2]}), "a": parse_distribution({"values": ["x", "y", "z"]})}
    points = grid(space)
    assert grid_size(space) == len(points) == 6
    assert points[:4] == [{"b": 1, "a": "x"}, {"b": 1, "a": "y"}, {"b": 1, "a": "z"}, {"b": 2, "a": "x"}]


def test_grid_enumerates_int_uniform_and_refuses_continuous():
    assert grid({"h": parse_distribution({"min": 1, "max": 3})}) == [{"h": 1}, {"h": 2}, {"h": 3}]
    space = {"lr": parse_distribution({"distribution": "log_uniform_values", "min": 1e-3, "max": 1e-1})}
    assert grid_size(space) is None
    with pytest.raises(SpaceError, match="continuous"):
        grid(space)


def test_random_draws_are_seeded():
    space = {"lr": parse_distribution({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}),
             "h": parse_distribution({"values": [10, 20, 30]})}
    a = random_draws(space, 10, seed=3)
    assert a == random_draws(space, 10, seed=3)
    assert a != random_draws(space, 10, seed=4)
    assert len(a) == 10 and random_draws(space, 5, seed=3) == a[:5]


def test_to_dict_round_trips():
    for spec in ({"values": [1, 2]}, {"value": "he"},
                 {"distribution": "q_log_uniform_values", "min": 16, "max": 512, "q": 8},
                 {"distribution": "log_normal", "mu": -2.0, "sigma": 0.5}):
        dist = parse_distribution(spec)
        assert parse_distribution(dist.to_dict()) == dist
