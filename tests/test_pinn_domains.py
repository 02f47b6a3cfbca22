import numpy as np
import pytest

from msnn_tf import pinn


def test_samplers_stay_inside_and_have_the_right_counts():
    box = pinn.Box([-1.0, 0.0], [1.0, 2.0], axis_names="xt")
    for method in pinn.SAMPLERS:
        x = box.sample(100, method=method, seed=3)
        assert x.shape[1] == 2 and np.all(box.contains(x))
        assert x.shape[0] == (100 if method != "uniform" else 10 * 10)
    grid = box.sample(30, method="uniform")  # ceil(sqrt(30)) = 6 per axis, faces included
    assert grid.shape == (36, 2) and grid[:, 0].min() == -1.0 and grid[:, 1].max() == 2.0


def test_latin_hypercube_fills_every_stratum_once():
    box = pinn.Interval(-1.0, 1.0)
    x = pinn.Box([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]).sample(50, seed=1)
    for axis in range(3):
        strata = np.floor(x[:, axis] * 50).astype(int)
        assert sorted(strata) == list(range(50))
    assert np.all(box.contains(box.sample(20, seed=2)))
    # Different seeds resample (the paper's "Adam (SGD)").
    assert not np.allclose(box.sample(20, seed=2), box.sample(20, seed=4))


def test_boundary_faces_and_initial_points():
    square = pinn.Rectangle([-1, -1], [1, 1])
    edge = square.boundary(25, seed=0)
    assert edge.shape == (100, 2)
    on_face = np.isclose(np.abs(edge), 1.0, rtol=0, atol=1e-15).any(axis=1)
    assert on_face.all()
    line = pinn.Interval(0.0, 2.0)
    np.testing.assert_array_equal(line.boundary(1), [[0.0], [2.0]])
    slab = pinn.SpaceTimeBox(-1.0, 1.0, 0.0, 1.0)
    assert slab.axis_names == ("x", "t") and slab.time_axis == 1
    initial = slab.initial(40, seed=0)
    assert initial.shape == (40, 2) and np.all(initial[:, 1] == 0.0)
    sides = slab.spatial_boundary(10, seed=0)
    assert sides.shape == (20, 2) and np.all(np.abs(sides[:, 0]) == 1.0)


def test_check_inside_names_the_argument_and_point():
    box = pinn.Interval(0.0, 1.0)
    np.testing.assert_array_equal(box.check_inside("points", [0.0, 0.5, 1.0]), [[0.0], [0.5], [1.0]])
    with pytest.raises(ValueError, match=r"`points` has points outside the domain.*1\.5"):
        box.check_inside("points", [0.2, 1.5])
    with pytest.raises(ValueError, match="finite"):
        box.check_inside("points", [np.nan])
    with pytest.raises(ValueError, match="shape"):
        box.check_inside("points", np.zeros((3, 2)))


@pytest.mark.parametrize("args, kwargs, word", [
    (([1.0], [0.0]), {}, "upper > lower"), (([0.0], [np.inf]), {}, "finite"),
    (([0.0, 0.0], [1.0]), {}, "one length"), (([0.0, 0.0], [1.0, 1.0]), dict(axis_names="x"), "axis_names"),
    (([0.0, 0.0], [1.0, 1.0]), dict(axis_names="xx"), "distinct"),
])
def test_bad_boxes(args, kwargs, word):
    with pytest.raises(ValueError, match=word):
        pinn.Box(*args, **kwargs)


def test_bad_sampling_arguments():
    box = pinn.Interval(0.0, 1.0)
    with pytest.raises(ValueError, match="num_points"):
        box.sample(0)
    with pytest.raises(ValueError, match="method"):
        box.sample(10, method="sobol")
    with pytest.raises(ValueError, match="face"):
        box.boundary(3, faces=[(2, 0)])


def test_expanded_box_grows_only_the_listed_faces_and_keeps_its_class():
    box = pinn.SpaceTimeBox(-1.0, 1.0, 0.0, 2.0)
    grown = box.expanded([(1, 1)], 0.05)
    assert isinstance(grown, pinn.SpaceTimeBox) and grown.axis_names == ("x", "t")
    np.testing.assert_allclose(grown.lower, [-1.0, 0.0], rtol=0, atol=0)
    np.testing.assert_allclose(grown.upper, [1.0, 2.1], rtol=1e-15)  # 5% of the span 2
    np.testing.assert_allclose(box.upper, [1.0, 2.0], rtol=0, atol=0)  # the original is untouched
    both = pinn.Interval(-1.0, 1.0).expanded([(0, 0), (0, 1)], 0.01)
    np.testing.assert_allclose([both.lower[0], both.upper[0]], [-1.02, 1.02], rtol=1e-15)
    with pytest.raises(ValueError, match="margin"):
        box.expanded([(1, 1)], -0.1)
    with pytest.raises(ValueError, match="face"):
        box.expanded([(2, 0)], 0.1)
