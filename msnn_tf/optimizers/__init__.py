"""Compiled optimizers over flat float64 parameter vectors: Adam blocks and TFP L-BFGS."""

from msnn_tf.optimizers.adam import AdamResults, adam_minimize
from msnn_tf.optimizers.flat import FlatParameters
from msnn_tf.optimizers.lbfgs import LbfgsResults, lbfgs_minimize
from msnn_tf.optimizers.levenberg_marquardt import LevenbergMarquardtResults, levenberg_marquardt_minimize
from msnn_tf.optimizers.progress import block_gain_stalled

__all__ = ["AdamResults", "FlatParameters", "LbfgsResults", "LevenbergMarquardtResults", "adam_minimize",
           "block_gain_stalled", "lbfgs_minimize", "levenberg_marquardt_minimize"]
