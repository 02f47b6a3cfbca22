"""msnn_tf: multi-stage neural networks of machine precision (Wang & Lai, J. Comput. Phys. 2024).

Public names::

    import msnn_tf as msnn
    reg = msnn.MultiStageRegressor()
    history = reg.fit(x, y, num_stages=4)
"""

import importlib

#: Where each public name lives. The package imports a module (and TensorFlow with it) only when one of
#: its names is first used (PEP 562), so that ``msnn-tf --help`` and ``import msnn_tf`` cost milliseconds;
#: ``msnn.MultiStageRegressor`` and ``from msnn_tf import MultiStageRegressor`` work as before.
_LOCATIONS = {
    "Partials": "msnn_tf.derivatives", "partial_derivatives": "msnn_tf.derivatives",
    "StageCallback": "msnn_tf.engine", "TimeProfile": "msnn_tf.engine", "Checkpoint": "msnn_tf.engine", "TensorBoard": "msnn_tf.engine",
    "InputScaling": "msnn_tf.layers", "ScaledFirstLayer": "msnn_tf.layers",
    "LeastSquaresResult": "msnn_tf.least_squares", "solve_output_layer": "msnn_tf.least_squares",
    "build_stage_network": "msnn_tf.networks",
    "MultiStagePINN": "msnn_tf.pinn.trainer",
    "AdamResults": "msnn_tf.optimizers", "LbfgsResults": "msnn_tf.optimizers",
    "adam_minimize": "msnn_tf.optimizers", "lbfgs_minimize": "msnn_tf.optimizers",
    "LevenbergMarquardtResults": "msnn_tf.optimizers", "levenberg_marquardt_minimize": "msnn_tf.optimizers",
    "MultiStageRegressor": "msnn_tf.regression", "mse_objective": "msnn_tf.regression",
    "StageReport": "msnn_tf.reporting", "TrainingHistory": "msnn_tf.reporting", "PINNHistory": "msnn_tf.reporting",
    "amplitude_spectra": "msnn_tf.spectral", "DataDensityWarning": "msnn_tf.spectral",
    "dominant_frequencies": "msnn_tf.spectral", "dominant_frequency": "msnn_tf.spectral",
    "kappa_for_frequency": "msnn_tf.spectral", "min_points_for_frequency": "msnn_tf.spectral", "rms": "msnn_tf.spectral",
    "sample_spectrum_frequencies": "msnn_tf.spectral",
    "StagedModel": "msnn_tf.staged_model", "load_model": "msnn_tf.staged_model",
    "boundary_weights": "msnn_tf.weighting",
}
_SUBMODULES = ("pinn", "engine", "optimizers", "regression", "plotting", "jsonio", "cli")


def __getattr__(name):
    if name in _LOCATIONS:
        value = getattr(importlib.import_module(_LOCATIONS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"msnn_tf.{name}")
    raise AttributeError(f"module 'msnn_tf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))


__version__ = "0.1.0"

__all__ = [
    "AdamResults",
    "Checkpoint",
    "TensorBoard",
    "PINNHistory",
    "load_model",
    "DataDensityWarning",
    "InputScaling",
    "LbfgsResults",
    "LeastSquaresResult",
    "LevenbergMarquardtResults",
    "MultiStagePINN",
    "MultiStageRegressor",
    "Partials",
    "ScaledFirstLayer",
    "StageCallback",
    "TimeProfile",
    "StageReport",
    "StagedModel",
    "TrainingHistory",
    "adam_minimize",
    "amplitude_spectra",
    "boundary_weights",
    "build_stage_network",
    "dominant_frequencies",
    "dominant_frequency",
    "kappa_for_frequency",
    "lbfgs_minimize",
    "levenberg_marquardt_minimize",
    "min_points_for_frequency",
    "mse_objective",
    "partial_derivatives",
    "rms",
    "sample_spectrum_frequencies",
    "solve_output_layer",
]
