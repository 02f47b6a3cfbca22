import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import msnn_tf as msnn


def make_model(seed=0):
    model = msnn.StagedModel(1, lower=-2.0, upper=3.0, output_offset=0.5, output_scale=2.0)
    model.add_stage(msnn.build_stage_network(1, width=8, seed=seed), 1.0)
    model.add_stage(msnn.build_stage_network(1, width=10, kappa=30.0, first_activation="sin", seed=seed + 1), 1e-5)
    model.add_stage(msnn.build_stage_network(1, width=12, kappa=80.0, first_activation="sin", seed=seed + 2), 3e-9)
    return model


def test_prediction_is_the_sum_of_eq_2_5():
    model = make_model()
    x = np.linspace(-2, 3, 57)[:, None]
    h = 2.0 * (x + 2.0) / 5.0 - 1.0
    expected = sum(eps * net(h).numpy() for net, eps in zip(model.stage_networks, model.epsilons))
    np.testing.assert_allclose(model.predict(x), 0.5 + 2.0 * expected, rtol=1e-15, atol=1e-15)
    # Eager and compiled evaluation may differ in the last bit (operation order): 2 ulp of O(1).
    np.testing.assert_allclose(model(x).numpy(), model.predict(x), rtol=0, atol=5e-16)
    partial = model.predict(x, num_stages=1)
    np.testing.assert_allclose(partial, 0.5 + 2.0 * model.stage_networks[0](h).numpy(), rtol=1e-15, atol=1e-15)


def test_predict_keeps_float64_inputs():
    # keras.Model.predict would cast NumPy inputs to float32; ours must not lose bits.
    model = make_model()
    x = np.linspace(-2, 3, 1001)[:, None] + 1e-12
    assert model.predict(x).dtype == np.float64
    eager = model(tf.constant(x)).numpy()
    np.testing.assert_allclose(model.predict(x), eager, rtol=0, atol=5e-16)
    # A float32 round trip of the inputs would show as errors of ~1e-8.
    np.testing.assert_allclose(model.predict(x, batch_size=100), model.predict(x), rtol=0, atol=5e-16)


def test_add_stage_freezes_earlier_stages():
    model = msnn.StagedModel(1)
    first = msnn.build_stage_network(1, width=5, seed=0)
    model.add_stage(first, 1.0)
    assert len(model.trainable_weights) == len(first.trainable_weights) == 8
    second = msnn.build_stage_network(1, width=6, kappa=10.0, first_activation="sin", seed=1)
    model.add_stage(second, 1e-3)
    trainable = {id(w) for w in model.trainable_weights}
    assert trainable == {id(w) for w in second.trainable_weights}
    assert not first.trainable and not any(id(w) in trainable for w in first.weights)
    assert len(model.weights) == 16


def test_pop_stage_discards_newest_only():
    model = make_model()
    x = np.linspace(-2, 3, 11)[:, None]
    two = model.predict(x, num_stages=2)
    model.pop_stage()
    assert model.num_stages == 2 and model.epsilons == (1.0, 1e-5)
    np.testing.assert_array_equal(model.predict(x), two)


@pytest.mark.parametrize("epsilon", [0.0, -1.0, float("nan"), float("inf")])
def test_add_stage_rejects_bad_epsilon(epsilon):
    model = msnn.StagedModel(1)
    with pytest.raises(ValueError, match="epsilon"):
        model.add_stage(msnn.build_stage_network(1), epsilon)


def test_add_stage_rejects_wrong_network_shape():
    model = msnn.StagedModel(2)
    with pytest.raises(Exception):
        model.add_stage(msnn.build_stage_network(1), 1.0)
    model = msnn.StagedModel(1)
    with pytest.raises(ValueError, match="network"):
        model.add_stage(msnn.build_stage_network(1, output_dim=2), 1.0)


def test_keras_save_load_is_bit_identical(tmp_path):
    model = make_model()
    x = np.linspace(-2, 3, 501)[:, None]
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, msnn.StagedModel)
    assert loaded.epsilons == model.epsilons and loaded.num_stages == 3
    assert loaded.lower == [-2.0] and loaded.upper == [3.0]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # Earlier stages stay frozen after loading.
    assert {id(w) for w in loaded.trainable_weights} == {id(w) for w in loaded.stage_networks[-1].trainable_weights}


def test_config_round_trip():
    model = make_model()
    clone = msnn.StagedModel.from_config(model.get_config())
    assert clone.get_config()["epsilons"] == model.get_config()["epsilons"]
    assert [n.layers[0].kappa for n in clone.stage_networks] == [1.0, 30.0, 80.0]


def test_export_savedmodel_without_msnn_tf(tmp_path):
    model = make_model()
    x = np.linspace(-2, 3, 777)[:, None]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", model.predict(x))
    model.export(tmp_path / "saved")
    script = textwrap.dedent(
        """
        import sys
        sys.modules["msnn_tf"] = None  # importing msnn_tf now fails: the SavedModel must not need it
        import numpy as np, tensorflow as tf
        folder = sys.argv[1]
        loaded = tf.saved_model.load(folder + "/saved")
        x = np.load(folder + "/x.npy")
        out = loaded.serve(tf.constant(x))
        assert out.dtype == tf.float64, out.dtype
        expected = np.load(folder + "/expected.npy")
        relative = np.max(np.abs(out.numpy() - expected) / np.maximum(np.abs(expected), 1e-300))
        print("RELATIVE", relative)
        assert relative <= 1e-15, relative
        """
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RELATIVE" in result.stdout


@pytest.mark.parametrize("kwargs, word", [
    (dict(input_dim=0), "input_dim"), (dict(input_dim=1, output_dim=0), "output_dim"),
    (dict(input_dim=1, lower=1.0, upper=1.0), "upper"), (dict(input_dim=2, lower=[0.0, 0.0, 0.0]), "lower"),
    (dict(input_dim=1, output_scale=0.0), "output_scale"),
])
def test_staged_model_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        msnn.StagedModel(**kwargs)


def test_float32_model_computes_saves_and_loads_in_float32(tmp_path):
    model = msnn.StagedModel(1, lower=-2.0, upper=2.0, dtype="float32")
    model.add_stage(msnn.build_stage_network(1, width=6, seed=1, dtype="float32"), 1.0)
    model.add_stage(msnn.build_stage_network(1, width=6, kappa=4.0, first_activation="sin", seed=2, dtype="float32"), 1e-3)
    x = np.linspace(-2, 2, 17)[:, None]
    prediction = model.predict(x)
    assert prediction.dtype == np.float32
    # The same weights in float64 agree to float32 round-off (tolerance 1e-6 absolute on O(1) values).
    reference = sum(e * n(np.asarray((x + 2.0) / 2.0 - 1.0, np.float32)).numpy()
                    for n, e in zip(model.stage_networks, model.epsilons))
    np.testing.assert_allclose(prediction, reference, atol=1e-6)
    model.save(tmp_path / "f32.keras")
    loaded = keras.saving.load_model(tmp_path / "f32.keras")
    assert loaded.compute_dtype == "float32"
    np.testing.assert_array_equal(loaded.predict(x), prediction)


@pytest.mark.parametrize("dtype", ["float16", "int32", "bfloat16"])
def test_dtype_must_be_float32_or_float64(dtype):
    with pytest.raises(ValueError, match="dtype"):
        msnn.StagedModel(1, dtype=dtype)
    with pytest.raises(ValueError, match="dtype"):
        msnn.build_stage_network(1, dtype=dtype)


def test_scale_stage_outputs_multiplies_the_stage_sum_and_restores_bit_for_bit():
    model = make_model()
    x = np.linspace(-2, 3, 41)[:, None]
    before = model.predict(x)
    revision = model.output_revision
    saved = model.scale_stage_outputs(-0.25)
    assert model.output_revision == revision + 1
    # offset 0.5 and output scale 2 stay: 0.5 + 2 (-0.25 S) where before = 0.5 + 2 S; 2 ulp of O(1).
    np.testing.assert_allclose(model.predict(x), 0.5 - 0.25 * (before - 0.5), rtol=0, atol=5e-16)
    model.restore_stage_outputs(saved)
    assert model.output_revision == revision + 2
    np.testing.assert_array_equal(model.predict(x), before)


@pytest.mark.parametrize("factor", [np.nan, np.inf])
def test_scale_stage_outputs_rejects_a_non_finite_factor(factor):
    with pytest.raises(ValueError, match="factor"):
        make_model().scale_stage_outputs(factor)


def test_scale_stage_outputs_needs_linear_dense_outputs():
    model = msnn.StagedModel(1)
    network = keras.Sequential([keras.Input((1,), dtype="float64"), keras.layers.Dense(1, activation="tanh", dtype="float64")])
    model.add_stage(network, 1.0)
    assert not model.outputs_scalable
    with pytest.raises(ValueError, match="linear Dense"):
        model.scale_stage_outputs(2.0)
