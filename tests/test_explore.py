"""The interactive figures (lrnotes.explore): what they embed is what the records say.

For every setting of the controls, the drawn median, band and single runs are
the median, quartiles and values of that setting's seeds, computed here
independently from the records; the summary panel is the final values' median
and quartiles; and only the rounding to ``DIGITS`` significant digits
separates what is drawn from the exact statistics.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lrnotes import explore
from lrnotes.explore import DIGITS, rounded, script_files
from lrnotes.path_explorer import explore_paths, simplify
from lrnotes.run_explorer import explore_runs

#: Relative error of rounding to DIGITS significant digits: at most half a unit in the last digit kept.
ROUNDING = 0.5 * 10.0 ** (1 - DIGITS)


def _records(seed_count: int = 5, epochs: int = 12) -> pd.DataFrame:
    """A sweep over two optimizers and three rates, with one diverging run and a rate only one optimizer has."""
    rng = np.random.default_rng(0)
    rows = []
    settings = [("sgd", 0.01), ("sgd", 0.1), ("sgd", 1.0), ("adam", 0.01), ("adam", 0.1)]
    for optimizer, lr in settings:
        for seed in range(seed_count):
            level = rng.uniform(0.3, 0.9)
            diverged = optimizer == "sgd" and lr == 1.0 and seed == 2
            for epoch in range(epochs + 1):
                value = level * (1 - np.exp(-epoch / 4)) + rng.normal(0, 0.01)
                if diverged and epoch > 6:
                    value = np.nan
                rows.append({"optimizer": optimizer, "lr": lr, "seed": seed, "epoch": epoch,
                             "train_accuracy": value, "test_accuracy": value - 0.05 * rng.uniform(),
                             "val_accuracy": value - 0.03 * rng.uniform(), "diverged": diverged})
    return pd.DataFrame(rows)


def _close(drawn, exact) -> None:
    drawn = np.array([np.nan if value is None else value for value in drawn], dtype=float)
    exact = np.asarray(exact, dtype=float)
    assert drawn.shape == exact.shape
    assert np.array_equal(np.isnan(drawn), np.isnan(exact))
    finite = ~np.isnan(exact)
    assert np.all(np.abs(drawn[finite] - exact[finite]) <= ROUNDING * np.abs(exact[finite]) + 1e-300)


def _by_role(traces, role, metric=None):
    return [t for t in traces if t["meta"] and t["meta"].get("role") == role
            and (metric is None or t["meta"].get("metric") == metric)]


@pytest.fixture(scope="module")
def records():
    return _records()


@pytest.fixture(scope="module")
def explorer(records):
    return explore_runs(records, {"optimizer": "optimizer", "lr": "learning rate"}, summary="val_accuracy",
                        chosen={"sgd": 0.1, "adam": 0.01}, reference=0.85)


def test_every_setting_draws_the_median_band_and_runs_of_its_seeds(records, explorer):
    settings = records[["optimizer", "lr"]].drop_duplicates().itertuples(index=False)
    checked = 0
    for optimizer, lr in settings:
        traces = explorer.drawn(optimizer=optimizer, lr=lr)
        group = records[(records["optimizer"] == optimizer) & (records["lr"] == lr)]
        for metric in ("train_accuracy", "test_accuracy"):
            matrix = group.pivot(index="epoch", columns="seed", values=metric)
            values = matrix.to_numpy()
            with np.errstate(all="ignore"):
                median = np.nanmedian(values, axis=1)
                low, high = np.nanpercentile(values, [25, 75], axis=1)
            (drawn_median,) = _by_role(traces, "median", metric)
            assert drawn_median["x"] == [float(e) for e in matrix.index]
            _close(drawn_median["y"], median)
            _close(_by_role(traces, "band_low", metric)[0]["y"], low)
            _close(_by_role(traces, "band_high", metric)[0]["y"], high)
            drawn_runs = _by_role(traces, "run", metric)
            assert len(drawn_runs) == values.shape[1]
            for s, run in enumerate(drawn_runs):
                _close(run["y"], values[:, s])
            crosses = _by_role(traces, "diverged", metric)[0]
            if group["diverged"].any():
                seed_column = list(matrix.columns).index(2)
                last = np.flatnonzero(~np.isnan(values[:, seed_column]))[-1]
                assert crosses["x"] == [float(matrix.index[last])]
                _close(crosses["y"], [values[last, seed_column]])
            else:
                assert crosses["x"] == []
            checked += 1
    assert checked == 10


def test_values_are_rounded_to_the_stated_digits_and_no_further(records, explorer):
    traces = explorer.drawn(optimizer="adam", lr=0.1)
    (median,) = _by_role(traces, "median", "test_accuracy")
    group = records[(records["optimizer"] == "adam") & (records["lr"] == 0.1)]
    exact = group.pivot(index="epoch", columns="seed", values="test_accuracy").median(axis=1).to_numpy()
    assert median["y"] == rounded(exact)
    assert rounded([0.123456789]) == [0.1235]


def test_the_summary_is_the_median_and_quartiles_of_the_final_values(records, explorer):
    traces = explorer.drawn(optimizer="sgd", lr=0.01)
    last = records[records["epoch"] == records["epoch"].max()]
    for optimizer in ("sgd", "adam"):
        mine = [t for t in traces if t["meta"].get("setting") == optimizer]
        ok = last[(last["optimizer"] == optimizer) & ~last["diverged"]]
        grouped = ok.groupby("lr")["val_accuracy"]
        (median,) = _by_role(mine, "summary_median")
        assert median["x"] == sorted(ok["lr"].unique().tolist())
        _close(median["y"], grouped.median().to_numpy())
        _close(_by_role(mine, "summary_band_low")[0]["y"], grouped.quantile(0.25).to_numpy())
        _close(_by_role(mine, "summary_band_high")[0]["y"], grouped.quantile(0.75).to_numpy())
        dots = _by_role(mine, "summary_seeds")[0]
        assert len(dots["y"]) == len(ok)  # a diverged run is no dot
        star = _by_role(mine, "chosen")[0]
        assert star["x"] == [{"sgd": 0.1, "adam": 0.01}[optimizer]]
    ring = _by_role(traces, "current")[0]
    assert ring["x"] == [0.01]
    sgd_final = last[(last["optimizer"] == "sgd") & (last["lr"] == 0.01)]["val_accuracy"]
    _close(ring["y"], [sgd_final.median()])


def test_a_later_control_offers_only_values_with_runs(explorer):
    keys = {tuple(map(int, key.split("|"))) for key in explorer.spec["keys"]}
    options = explorer.spec["controls"]
    adam = options[0]["options"].index("adam")
    assert {options[1]["options"][lr] for o, lr in keys if o == adam} == {"0.01", "0.1"}
    assert len(keys) == 5 and set(explorer.spec["states"]) == set(explorer.spec["keys"])
    with pytest.raises(ValueError, match="no runs"):
        explorer.key(optimizer="adam", lr=1.0)
    assert explorer.spec["initial"] == explorer.key(optimizer="sgd", lr=0.1)  # the first chosen rate


def test_axis_ranges_hold_every_setting(explorer):
    layout = explorer.spec["figure"]["layout"]
    low, high = layout["yaxis"]["range"]
    for state in explorer.spec["states"].values():
        for style, drawn in zip(explorer.spec["figure"]["data"], state["traces"]):
            if style.get("yaxis") == "y" and drawn:
                finite = [v for v in drawn[1] if v is not None]
                assert all(low <= v <= high for v in finite)


def test_controls_status_and_reference(explorer):
    controls = explorer.spec["controls"]
    assert [c["kind"] for c in controls] == ["select", "range"]
    assert [c["label"] for c in controls] == ["optimizer", "learning rate"]
    status = explorer.spec["states"][explorer.key(optimizer="sgd", lr=1.0)]["status"]
    assert status.startswith("optimizer sgd, learning rate 1:") and "1 of 5 runs diverged" in status
    shapes = explorer.spec["figure"]["layout"]["shapes"]
    assert {shape["yref"] for shape in shapes} == {"y", "y2"} and all(s["y0"] == 0.85 for s in shapes)


def test_a_label_that_names_its_setting_is_not_repeated(records):
    explorer = explore_runs(records, {"lr": "learning rate"}, labels={"lr": lambda lr: f"learning rate {lr:g}"})
    assert explorer.spec["states"][explorer.key(lr=0.1)]["status"].startswith("learning rate 0.1: final")


def test_panels_each_get_their_axis(records):
    two = explore_runs(records, "lr", metrics=[["train_accuracy"], ["test_accuracy"]], summary="val_accuracy")
    styles = two.spec["figure"]["data"]
    axes = {style["meta"]["metric"]: style["xaxis"] for style in styles if style["meta"].get("role") == "median"}
    assert axes == {"train_accuracy": "x", "test_accuracy": "x2"}
    assert {"xaxis", "xaxis2", "xaxis3"} <= set(two.spec["figure"]["layout"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"controls": "nope"}, "nope"),
        ({"controls": "lr", "band": "sd"}, "band must be one of"),
        ({"controls": ["optimizer", "lr"], "summary": "val_accuracy", "summary_over": "optimizer"}, "summary_over"),
        ({"controls": ["optimizer", "lr"], "summary": "val_accuracy", "chosen": {"sgd": 0.5}}, "chosen"),
        ({"controls": ["optimizer", "lr"], "summary": "val_accuracy", "chosen": {"rmsprop": 0.1}}, "chosen keys"),
        ({"controls": "lr", "labels": {"lr": lambda lr: "same"}}, "same text"),
        ({"controls": {}}, "at least one"),
        ({"controls": "lr", "metrics": []}, "at least one"),
        ({"controls": "lr", "logy": [True, False]}, "one value per panel"),
    ],
)
def test_bad_input_is_named(records, arguments, message):
    with pytest.raises(ValueError, match=message):
        explore_runs(records, **arguments)


def test_records_must_be_a_dataframe():
    with pytest.raises(TypeError, match="records must be a DataFrame"):
        explore_runs([1, 2], "lr")


def test_html_carries_the_data_and_the_scripts_only_when_asked(explorer, monkeypatch):
    monkeypatch.setattr(explore, "_inline_sent", False)
    site = explorer.to_html(scripts="site")
    payload = re.search(r'<script type="application/json">(.*?)</script>', site, re.DOTALL).group(1)
    assert json.loads(payload.replace("<\\/", "</")) == json.loads(explorer.to_json())
    assert "Plotly" not in site.split("application/json")[0] and len(site) < len(explorer.to_json()) + 5000
    assert 'role="group"' in site and "aria-live" in site and "@media print" in site
    inline = explorer.to_html(scripts="inline")
    assert all(path.read_text(encoding="utf-8")[:200] in inline for path in script_files().values())
    # After the first inline copy, a kernel's later explorers rely on it.
    assert len(explorer._repr_mimebundle_()["text/html"]) == len(site)
    monkeypatch.setattr(explore, "_inline_sent", False)
    monkeypatch.setenv(explore.SCRIPTS_ENV, "site")
    assert len(explorer._repr_mimebundle_()["text/html"]) == len(site)
    with pytest.raises(ValueError, match="unknown scripts .cdn.; expected one of: site, inline"):
        explorer.to_html(scripts="cdn")


def test_the_payload_cannot_close_its_script_tag():
    records = pd.DataFrame({"name": ["</script><b>", "a"], "seed": [0, 0], "epoch": [0, 0], "test_accuracy": [0.5, 0.6]})
    html = explore_runs(records, "name", metrics=["test_accuracy"]).to_html(scripts="site")
    payload = re.search(r'<script type="application/json">(.*?)</script>', html, re.DOTALL).group(1)
    assert "</script><b>" not in payload and "<\\/script><b>" in payload


def test_simplify_keeps_every_point_within_the_tolerance():
    rng = np.random.default_rng(1)
    zigzag = np.column_stack([np.linspace(0, 10, 2000), 0.5 * (-0.999) ** np.arange(2000)])
    walk = np.cumsum(rng.normal(size=(3000, 2)) * 0.01, axis=0)
    for points, tolerance in ((zigzag, 0.01), (walk, 0.02), (walk, 0.001)):
        kept = simplify(points, tolerance)
        assert kept[0] == 0 and kept[-1] == len(points) - 1 and np.all(np.diff(kept) > 0)
        for first, last in zip(kept[:-1], kept[1:]):
            start, end = points[first], points[last]
            chord = end - start
            inner = points[first + 1:last]
            if len(inner):
                distance = np.abs(chord[0] * (inner[:, 1] - start[1]) - chord[1] * (inner[:, 0] - start[0]))
                assert np.all(distance / np.hypot(*chord) <= tolerance + 1e-12)
    assert len(simplify(zigzag, 0.01)) > 1990  # a zigzag wider than the tolerance keeps (almost) every turn
    assert len(simplify(np.column_stack([np.arange(100.0), np.zeros(100)]), 0.01)) == 2
    assert simplify(np.array([[0, 0], [1, 1], [np.nan, 2], [3, 3]]), 0.1).tolist() == [0, 1]
    with pytest.raises(ValueError, match="tolerance must be positive"):
        simplify(zigzag, 0.0)
    with pytest.raises(ValueError, match="shape"):
        simplify(np.zeros((3, 3)), 0.1)


@pytest.fixture(scope="module")
def paths():
    import keras

    from lrnotes.paths import optimizer_paths
    from lrnotes.stability import stability_limit
    from lrnotes.surfaces import Quadratic

    bowl = Quadratic(1.0, 25.0)
    rates = [0.01, 0.05, 0.079, 0.12, 0.2]
    sweeps = {("bowl", "SGD"): optimizer_paths(bowl, keras.optimizers.SGD(), (-4.0, 1.5), 300, learning_rates=rates),
              ("bowl", "Adam"): optimizer_paths(bowl, keras.optimizers.Adam(), (-4.0, 1.5), 300,
                                                learning_rates=rates[:3])}
    return SimpleNamespace(surface=bowl, sweeps=sweeps, limit=stability_limit(bowl))


def test_paths_draw_each_rate_s_path_and_its_limit(paths):
    explorer = explore_paths(paths.sweeps, {"bowl": paths.surface}, limits={("bowl", "SGD"): paths.limit})
    window = max(np.ptp(np.asarray(paths.surface.bounds), axis=1))
    for path in paths.sweeps["bowl", "SGD"]:
        traces = explorer.drawn(surface="bowl", optimizer="SGD", learning_rate=path.learning_rate)
        (drawn,) = _by_role(traces, "path")
        kept = np.column_stack([drawn["x"], drawn["y"]])
        points = np.asarray(path.points, dtype=float)
        # every point of the path lies within 1/1000 of the window (plus rounding) of the drawn polyline
        for point in points[:: max(1, len(points) // 200)]:
            gaps = [_segment_distance(point, a, b) for a, b in zip(kept[:-1], kept[1:])] or [np.hypot(*(point - kept[0]))]
            assert min(gaps) <= 1e-3 * window + ROUNDING * np.abs(point).max() * 2
        (limit,) = _by_role(traces, "limit")
        assert limit["x"] == rounded([paths.limit, paths.limit])
        (crosses,) = _by_role(traces, "diverged")
        assert bool(crosses["x"]) == path.diverged
        status = explorer.spec["states"][explorer.key(surface="bowl", optimizer="SGD",
                                                      learning_rate=path.learning_rate)]["status"]
        assert f"{path.learning_rate / paths.limit:.3g} × the stability limit" in status
        assert ("diverged" in status) == path.diverged
    # the 0.12 path diverges, the 0.079 one does not: the limit (0.08) lies between them
    states = {rate: explorer.drawn(surface="bowl", optimizer="SGD", learning_rate=rate) for rate in (0.079, 0.12)}
    assert not _by_role(states[0.079], "diverged")[0]["x"] and _by_role(states[0.12], "diverged")[0]["x"]
    adam = explorer.drawn(surface="bowl", optimizer="Adam", learning_rate=0.01)
    assert _by_role(adam, "limit")[0]["x"] == []
    assert explorer.spec["initial"] == explorer.key(surface="bowl", optimizer="SGD", learning_rate=0.079)
    contour = _by_role(adam, "contour")[0]
    assert contour["visible"]


def _segment_distance(point, a, b) -> float:
    direction = b - a
    length = float(direction @ direction)
    t = 0.0 if length == 0 else float(np.clip((point - a) @ direction / length, 0.0, 1.0))
    return float(np.hypot(*(point - (a + t * direction))))


def test_paths_bad_input(paths):
    with pytest.raises(ValueError, match="surfaces has no 'bowl'"):
        explore_paths(paths.sweeps, {})
    with pytest.raises(ValueError, match="limits names"):
        explore_paths(paths.sweeps, {"bowl": paths.surface}, limits={("bowl", "RMSprop"): 0.1})
    with pytest.raises(TypeError, match="paths must be"):
        explore_paths({}, {"bowl": paths.surface})


def test_the_sphinx_extension_loads_the_scripts_only_on_pages_with_an_explorer():
    from lrnotes import sphinxext

    added = []
    app = SimpleNamespace(add_js_file=lambda name, **options: added.append((name, options)))
    sphinxext._explorer_scripts(app, "book/intro", "page.html", {"body": "<p>no figure</p>"}, None)
    assert added == []
    sphinxext._explorer_scripts(app, "book/lr", "page.html", {"body": f'<div {sphinxext.EXPLORER_MARK}>'}, None)
    assert added == [("plotly.min.js", {"loading_method": "defer"}), ("lrnotes-explore.js", {"loading_method": "defer"})]


def test_references_per_metric_take_the_metric_s_colour(records):
    explorer = explore_runs(records, "lr", summary="val_accuracy",
                            reference={"train_accuracy": 0.9, "test_accuracy": 0.8, "val_accuracy": 0.7})
    shapes = explorer.spec["figure"]["layout"]["shapes"]
    assert [(s["yref"], s["y0"], s["line"]["color"]) for s in shapes] == [
        ("y", 0.9, "#1f77b4"), ("y", 0.8, "#ff7f0e"), ("y2", 0.7, "#000000")]
    with pytest.raises(ValueError, match="reference names"):
        explore_runs(records, "lr", reference={"val_loss": 0.1})
