"""Surfaces, the paths of real Keras optimizers on them, and the stability limits."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrnotes import surfaces  # noqa: E402
import keras  # noqa: E402
from lrnotes.paths import Path, best_path, optimizer_path, optimizer_paths  # noqa: E402
from lrnotes.stability import iteration_matrix, spectral_radius, stability_limit  # noqa: E402
from lrnotes.surface_plots import plot_paths  # noqa: E402
from lrnotes.surfaces import Quadratic, Rosenbrock, Saddle  # noqa: E402

SURFACES = [Quadratic(1.0, 25.0), Quadratic(1.0, 50.0, angle=30.0), Rosenbrock(), Rosenbrock(0.5, 10.0), Saddle(),
            Saddle(2.0, 0.5)]
START = (-4.0, 1.5)


def _finite_difference(function, point, eps=1e-6):
    columns = []
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = eps
        columns.append((np.asarray(function(point + step)) - np.asarray(function(point - step))) / (2 * eps))
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize("surface", SURFACES, ids=repr)
def test_gradient_and_hessian_match_finite_differences(surface):
    rng = np.random.default_rng(0)
    for point in rng.uniform(-2.0, 2.0, size=(3, 2)):
        numeric = _finite_difference(lambda w: surface.value(w).numpy(), point)
        np.testing.assert_allclose(surface.gradient(point).numpy(), numeric, rtol=1e-6, atol=1e-6)
        numeric = _finite_difference(lambda w: surface.gradient(w).numpy(), point)
        np.testing.assert_allclose(surface.hessian(point), numeric.T, rtol=1e-6, atol=1e-5)


def test_surfaces_evaluate_grids_and_variables():
    bowl = Quadratic(1.0, 25.0)
    grid = np.zeros((3, 4, 2))
    assert bowl.value(grid).shape == (3, 4)
    assert bowl.gradient(grid).shape == (3, 4, 2)
    variable = keras.Variable(np.array([1.0, 1.0], np.float32))
    assert float(bowl.value(variable)) == 13.0
    assert float(Rosenbrock().value(Rosenbrock().minimum)) == 0.0
    assert np.allclose(np.linalg.eigvalsh(Quadratic(2.0, 7.0, angle=33.0).hessian([0.3, -1.0])), [2.0, 7.0])


def test_stability_limits_follow_from_the_iteration_matrix():
    bowl = Quadratic(1.0, 25.0)
    for beta, nesterov in ((0.0, False), (0.5, False), (0.9, False), (0.9, True), (0.5, True)):
        limit = stability_limit(bowl, beta, nesterov=nesterov)
        h = limit * bowl.eigenvalues[1]
        assert spectral_radius(0.99 * h, beta, nesterov) < 1.0 < spectral_radius(1.01 * h, beta, nesterov)
        # every smaller rate is stable too
        assert all(spectral_radius(f * h, beta, nesterov) < 1.0 for f in np.linspace(0.01, 0.99, 50))
    assert stability_limit(bowl) == 2.0 / 25.0
    assert np.isclose(stability_limit(bowl, 0.9), 2.0 * 1.9 / 25.0)
    # the trace and determinant of the heavy-ball matrix: 1 - h + beta and beta
    matrix = iteration_matrix(0.3, 0.7)
    assert np.isclose(np.trace(matrix), 1.4) and np.isclose(np.linalg.det(matrix), 0.7)


def test_local_limit_on_rosenbrock_is_two_over_the_top_curvature():
    top = np.linalg.eigvalsh(Rosenbrock().hessian([1.0, 1.0]))[-1]
    assert np.isclose(stability_limit(Rosenbrock()), 2.0 / top)
    assert np.isclose(stability_limit(Rosenbrock(), at=(0.0, 0.0)), 2.0 / 200.0)


@pytest.mark.parametrize(
    "momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)], ids=["sgd", "momentum", "nesterov"]
)
def test_keras_sgd_converges_just_under_the_limit_and_diverges_just_over(momentum, nesterov):
    bowl = Quadratic(1.0, 25.0)
    limit = stability_limit(bowl, momentum, nesterov=nesterov)
    optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=momentum, nesterov=nesterov)
    under = optimizer_path(bowl, keras.optimizers.SGD(learning_rate=0.99 * limit, momentum=momentum,
                                                      nesterov=nesterov), START, 3000)
    over = optimizer_path(bowl, keras.optimizers.SGD(learning_rate=1.01 * limit, momentum=momentum,
                                                     nesterov=nesterov), START, 3000)
    start = np.hypot(*START)
    assert not under.diverged and len(under) == 3001
    assert under.final_distance < 1e-6 * start
    assert over.diverged and len(over) < 3001
    assert np.isfinite(over.points).all() and over.final_distance > 1e6
    # the same through the stacked runner, rows at different rates
    rows = optimizer_paths(bowl, optimizer, START, 3000, learning_rates=[0.99 * limit, 1.01 * limit])
    assert [row.diverged for row in rows] == [False, True]


def test_measured_growth_is_the_spectral_radius():
    bowl = Quadratic(1.0, 25.0)
    for beta in (0.0, 0.9):
        limit = stability_limit(bowl, beta)
        for factor in (0.9, 1.05):
            path = optimizer_path(bowl, keras.optimizers.SGD(learning_rate=factor * limit, momentum=beta), START, 150)
            steps = np.arange(len(path))[10:]
            slope = np.polyfit(steps, np.log(path.distances()[10:]), 1)[0]
            expected = max(spectral_radius(factor * limit * lam, beta) for lam in bowl.eigenvalues)
            assert np.exp(slope) == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize(
    "make",
    [lambda: keras.optimizers.SGD(momentum=0.9, nesterov=True), lambda: keras.optimizers.Adam(),
     lambda: keras.optimizers.Adagrad(), lambda: keras.optimizers.RMSprop()],
    ids=["nesterov", "adam", "adagrad", "rmsprop"],
)
def test_rows_of_a_stacked_run_are_the_paths_run_alone(make):
    valley = Rosenbrock()
    rates = [0.001, 0.01]
    rows = optimizer_paths(valley, make(), (-1.5, 2.0), 200, learning_rates=rates)
    for rate, row in zip(rates, rows):
        optimizer = make()
        optimizer.learning_rate = rate
        alone = optimizer_path(valley, optimizer, (-1.5, 2.0), 200)
        assert row.learning_rate == rate and alone.learning_rate == pytest.approx(rate)
        np.testing.assert_allclose(row.points, alone.points, rtol=1e-5, atol=1e-6)
    starts = [(-1.5, 2.0), (0.5, -0.5)]
    rows = optimizer_paths(valley, make(), starts, 50)
    for start, row in zip(starts, rows):
        np.testing.assert_allclose(row.points[0], start)


def test_the_optimizer_passed_in_is_left_untouched():
    optimizer = keras.optimizers.Adam(learning_rate=0.1)
    first = optimizer_path(Quadratic(), optimizer, START, 20)
    second = optimizer_path(Quadratic(), optimizer, START, 20)
    np.testing.assert_array_equal(first.points, second.points)
    assert int(optimizer.iterations) == 0 and not optimizer.built
    assert first.optimizer == "Adam" and first.learning_rate == 0.1


def test_path_helpers():
    bowl = Quadratic(1.0, 25.0)
    path = optimizer_path(bowl, keras.optimizers.SGD(learning_rate=0.05), START, 300)
    assert isinstance(path, Path) and np.asarray(path).shape == (301, 2)
    converged = path.steps_to_converge(1e-3)
    assert 0 < converged < 300 and (path.distances()[int(converged):] <= 1e-3).all()
    assert path.distances()[int(converged) - 1] > 1e-3
    assert np.isnan(path.steps_to_converge(1e-30))
    assert path.steps_to_value(path.values[0]) == 0.0 and np.isnan(path.steps_to_value(-1.0))
    assert "SGD" in repr(path) and "finished" in repr(path)
    slow = optimizer_path(bowl, keras.optimizers.SGD(learning_rate=0.001), START, 50)
    diverged = optimizer_path(bowl, keras.optimizers.SGD(learning_rate=1.0), START, 50)
    assert best_path([slow, path, diverged]) is path
    assert best_path([slow, diverged]) is slow
    with pytest.raises(ValueError, match="every path diverged"):
        best_path([diverged])
    saddle = optimizer_path(Saddle(), keras.optimizers.SGD(learning_rate=0.1), (1.0, 1e-3), 400)
    assert saddle.diverged and saddle.steps_to_value(-1.0) > 50  # it escaped, to minus infinity
    with pytest.raises(ValueError, match="no minimum"):
        saddle.steps_to_converge(1e-3)


def test_plot_paths_draws_every_path_on_contours():
    bowl = Quadratic(1.0, 25.0)
    paths = optimizer_paths(bowl, keras.optimizers.SGD(), START, 30, learning_rates=[0.01, 0.05, 0.2])
    fig, ax = plt.subplots()
    assert plot_paths(bowl, {f"lr {p.learning_rate:g}": p for p in paths}, ax=ax) is ax
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["lr 0.01", "lr 0.05", "lr 0.2", "minimum"]
    assert ax.collections  # the contour lines
    plt.close(fig)
    ax = plot_paths(Saddle(), np.array([[1.0, 0.1], [0.5, 0.2]]), bounds=((-1, 1), (-1, 1)))
    assert ax.get_xlim() == (-1.0, 1.0)
    plt.close(ax.figure)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: Quadratic(0.0, 1.0), ValueError, "a must be a positive"),
        (lambda: Quadratic("1", 1.0), TypeError, "a must be a number"),
        (lambda: Rosenbrock(b=float("nan")), ValueError, "b must be a finite number"),
        (lambda: Saddle(b=-1.0), ValueError, "b must be a positive"),
        (lambda: Quadratic().value([1.0, 2.0, 3.0]), ValueError, "last axis of length 2"),
        (lambda: Quadratic().gradient("ab"), TypeError, "w must"),
        (lambda: optimizer_path(Quadratic(), "sgd", START, 10), TypeError, "optimizer must be a Keras optimizer"),
        (lambda: optimizer_path("bowl", keras.optimizers.SGD(), START, 10), TypeError, "surface must be a Surface"),
        (lambda: optimizer_path(Quadratic(), keras.optimizers.SGD(), (1.0, 2.0, 3.0), 10), ValueError,
         "start must be a point"),
        (lambda: optimizer_path(Quadratic(), keras.optimizers.SGD(), (1.0, np.inf), 10), ValueError,
         "start must be finite"),
        (lambda: optimizer_path(Quadratic(), keras.optimizers.SGD(), START, 0), ValueError, "steps must be a positive"),
        (lambda: optimizer_path(Quadratic(), keras.optimizers.SGD(), START, 2.5), TypeError,
         "steps must be a positive"),
        (lambda: optimizer_path(Quadratic(), keras.optimizers.SGD(), START, 5, blowup=1.0), ValueError,
         "blowup must be a number in \\(1, inf\\)"),
        (lambda: optimizer_paths(Quadratic(), keras.optimizers.SGD(), [START, START], 5, learning_rates=[0.1]),
         ValueError, "one start per rate"),
        (lambda: optimizer_paths(Quadratic(), keras.optimizers.SGD(), START, 5, learning_rates=[0.1, -1.0]),
         ValueError, "learning_rates must be a positive"),
        (lambda: optimizer_paths(Quadratic(), keras.optimizers.SGD(), START, 5, learning_rates=0.1),
         TypeError, "learning_rates must be a non-empty list"),
        (lambda: optimizer_paths(Quadratic(), keras.optimizers.Lamb(), [START, START], 5), ValueError,
         "may couple"),
        (lambda: optimizer_paths(Quadratic(), keras.optimizers.SGD(clipnorm=1.0), [START, START], 5), ValueError,
         "clipnorm"),
        (lambda: stability_limit(Quadratic(), momentum=1.0), ValueError, r"momentum must be in \[0, 1\)"),
        (lambda: stability_limit(Quadratic(), nesterov=1), TypeError, "nesterov must be True or False"),
        (lambda: stability_limit("bowl"), TypeError, "surface must be a Surface"),
        (lambda: stability_limit(Saddle()), ValueError, "has no minimum"),
        (lambda: stability_limit(Saddle(), at=(0.0, 0.0)), ValueError, "no learning rate converges"),
        (lambda: plot_paths(Quadratic(), [np.zeros((3, 2))], labels=["a", "b"]), ValueError, "2 labels for 1"),
        (lambda: plot_paths(Quadratic(), [np.zeros((3, 3))]), ValueError, r"must have shape \(n, 2\)"),
        (lambda: plot_paths(Quadratic(), [], bounds=((1, 0), (0, 1))), ValueError, "bounds must be"),
        (lambda: plot_paths(Quadratic(), [], ax="axes"), TypeError, "ax must be a matplotlib Axes"),
        (lambda: best_path([]), TypeError, "non-empty list of Path"),
    ],
)
def test_bad_input_is_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
    plt.close("all")


def test_module_exports_what_it_documents():
    for name in surfaces.__all__:
        assert getattr(surfaces, name).__doc__
