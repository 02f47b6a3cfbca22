"""The stage engine shared by the regressor and the PINN solver.

Settings (:mod:`~msnn_tf.engine.settings`), the frozen :class:`StagePlan`, the two stage solvers
(:mod:`~msnn_tf.engine.solvers`), the stage loop with its accept/discard rule
(:mod:`~msnn_tf.engine.loop`) and Keras-style callbacks (:mod:`~msnn_tf.engine.callbacks`).
"""

from msnn_tf.engine.callbacks import (CallbackList, Checkpoint, ProgressCallback, StageCallback, TensorBoard,
                                      configure_callbacks)
from msnn_tf.engine.loop import StageObjective, StageOutcome, run_stages
from msnn_tf.engine.profile import TimeProfile
from msnn_tf.engine.plan import StagePlan, first_layer_start, json_ready, kappa_hat_of
from msnn_tf.engine.settings import PINNSettings, RegressionSettings, StageSettings
from msnn_tf.engine.solvers import (BlockHooks, LeastSquaresCandidate, LeastSquaresChoice, TrainedStage,
                                    select_least_squares, train_adam_lbfgs)

__all__ = [
    "BlockHooks", "CallbackList", "Checkpoint", "LeastSquaresCandidate", "LeastSquaresChoice", "PINNSettings", "ProgressCallback",
    "RegressionSettings", "StageCallback", "StageObjective", "StageOutcome", "StagePlan", "StageSettings", "TensorBoard",
    "TimeProfile", "TrainedStage", "configure_callbacks", "first_layer_start", "json_ready", "kappa_hat_of", "run_stages", "select_least_squares", "train_adam_lbfgs",
]
