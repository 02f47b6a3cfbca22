"""StagedModel: the sum of stage networks of eq. (2.5), with freezing, saving and export."""

from __future__ import annotations

import math
import os

import keras
import numpy as np
from keras import ops

from msnn_tf.jsonio import json_ready
from msnn_tf.layers import InputScaling
from msnn_tf.transforms import dense_layers
from msnn_tf.validation import check_float_dtype

__all__ = ["ExportedModel", "StagedModel", "load_model", "load_staged_model", "save_model_atomically"]

#: ``predict`` evaluates in row blocks when rows x widest layer exceeds this.
PREDICT_NUMBERS = 16_000_000


def _check_epsilon(epsilon) -> float:
    value = float(epsilon)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`epsilon` must be positive and finite, got {epsilon!r}")
    return value


def _as_list(name: str, value, length: int) -> list[float]:
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size == 1:
        array = np.repeat(array, length)
    if array.size != length or not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be {length} finite value(s), got {value!r}")
    return [float(v) for v in array]


@keras.saving.register_keras_serializable(package="msnn_tf")
class StagedModel(keras.Model):
    """A multi-stage network ``u(x) = offset + scale * sum_j eps_j u_j(H(x))`` (eq. 2.5).

    ``H`` maps the box ``[lower, upper]`` to ``[-1, 1]`` (Algorithm 1, step 1) and every stage network
    ``u_j`` receives ``H(x)``. ``offset`` and ``scale`` undo the output normalisation of the data
    (both are 0 and 1 for a PINN). :meth:`add_stage` freezes every earlier stage, so that only the
    newest network's weights appear in :attr:`trainable_weights` (Algorithm 1, step 8).

    Args:
        input_dim: Number of input coordinates ``d``.
        lower: Lower corner of the input box (scalar or length ``d``).
        upper: Upper corner of the input box.
        output_dim: Number of outputs.
        output_offset: Added to the stage sum (per output).
        output_scale: Multiplies the stage sum (per output); must be non-zero.
        stages: Stage networks to start with (each maps ``d`` scaled inputs to ``output_dim``).
        epsilons: Their prefactors ``eps_j`` (eq. 2.3), positive.
        stage_parameters: Per stage, ``None`` or the values of the equation's unknown parameters
            after that stage (a combined forward-inverse problem, section 4: ``lambda``).
        metadata: A JSON-ready dict saved with the model (the solvers store their settings and
            history there, so that ``load`` restores them), or ``None``.
        **kwargs: Forwarded to :class:`keras.Model`; ``dtype`` is ``"float64"`` (default) or
            ``"float32"`` and must match the stage networks'.

    Example:
        >>> model = StagedModel(1, lower=-1.0, upper=1.0)
        >>> model.add_stage(build_stage_network(1), epsilon=1.0)
        >>> model.add_stage(build_stage_network(1, kappa=30.0, first_activation="sin"), epsilon=1e-5)
        >>> len(model.trainable_weights)  # only the second stage trains
        8
    """

    def __init__(
        self,
        input_dim: int,
        lower=-1.0,
        upper=1.0,
        output_dim: int = 1,
        output_offset=0.0,
        output_scale=1.0,
        stages=None,
        epsilons=None,
        stage_parameters=None,
        metadata=None,
        **kwargs,
    ):
        kwargs["dtype"] = check_float_dtype("dtype", kwargs.get("dtype") or "float64")
        super().__init__(**kwargs)
        if isinstance(input_dim, bool) or not isinstance(input_dim, int) or input_dim <= 0:
            raise ValueError(f"`input_dim` must be a positive integer, got {input_dim!r}")
        if isinstance(output_dim, bool) or not isinstance(output_dim, int) or output_dim <= 0:
            raise ValueError(f"`output_dim` must be a positive integer, got {output_dim!r}")
        self.input_dim = input_dim
        self.output_dim = output_dim
        lower = _as_list("lower", lower, input_dim)
        upper = _as_list("upper", upper, input_dim)
        self.input_scaling = InputScaling(lower, upper, dtype=self.compute_dtype, name="input_scaling")
        self.output_offset = _as_list("output_offset", output_offset, output_dim)
        self.output_scale = _as_list("output_scale", output_scale, output_dim)
        if any(s == 0 for s in self.output_scale):
            raise ValueError(f"`output_scale` must be non-zero, got {output_scale!r}")
        if metadata is not None and not isinstance(metadata, dict):
            raise ValueError(f"`metadata` must be a JSON-ready dict or None, got {type(metadata).__name__}")
        #: What the solver that trained the model stores with it (settings, history), strict JSON; saved
        #: in the ``.keras`` file's config. ``None``: nothing.
        self.metadata = metadata
        self.stage_networks = []
        self._epsilons = []
        self._output_revision = 0
        self._stage_parameters = []
        stages = list(stages or [])
        epsilons = list(epsilons or [])
        stage_parameters = list(stage_parameters or [None] * len(stages))
        if len(stages) != len(epsilons):
            raise ValueError(f"`stages` and `epsilons` must have the same length, got {len(stages)} and {len(epsilons)}")
        if len(stage_parameters) != len(stages):
            raise ValueError(f"`stage_parameters` must have one entry per stage ({len(stages)}), got {len(stage_parameters)}")
        for network, epsilon, parameters in zip(stages, epsilons, stage_parameters):
            self.add_stage(network, epsilon, parameters)
        self.build((None, input_dim))

    # ------------------------------------------------------------------ structure
    @property
    def lower(self) -> list[float]:
        return list(self.input_scaling.lower)

    @property
    def upper(self) -> list[float]:
        return list(self.input_scaling.upper)

    @property
    def num_stages(self) -> int:
        return len(self.stage_networks)

    @property
    def epsilons(self) -> tuple[float, ...]:
        """Prefactors ``eps_j`` of the stages, in order."""
        return tuple(self._epsilons)

    @property
    def stage_parameters(self) -> tuple:
        """Per stage, ``None`` or the unknown parameters' values after it (``{name: float}``)."""
        return tuple(None if p is None else dict(p) for p in self._stage_parameters)

    @property
    def parameters(self) -> dict[str, float]:
        """The unknown parameters' values after the newest stage that set them (``{}`` if none did)."""
        for values in reversed(self._stage_parameters):
            if values is not None:
                return dict(values)
        return {}

    def add_stage(self, network: keras.Model, epsilon: float, parameters=None) -> None:
        """Appends ``network`` with prefactor ``epsilon`` and freezes every earlier stage.

        Args:
            network: The stage network.
            epsilon: Its prefactor, positive and finite.
            parameters: Optional ``{name: value}`` of the equation's unknown parameters after this
                stage (removed with the stage by :meth:`pop_stage`).

        Raises:
            ValueError: if ``epsilon`` is not positive and finite, the network's shapes do not fit or a
                parameter value is not a finite number.
        """
        epsilon = _check_epsilon(epsilon)
        if parameters is not None:
            checked = {}
            for name, value in dict(parameters).items():
                number = float(value)
                if not isinstance(name, str) or not math.isfinite(number):
                    raise ValueError(f"`parameters` must map names to finite numbers, got {name!r}: {value!r}")
                checked[name] = number
            parameters = checked
        if not isinstance(network, keras.Model):
            raise ValueError(f"`network` must be a keras.Model, got {type(network).__name__}")
        probe = network(np.zeros((1, self.input_dim)))
        if tuple(probe.shape) != (1, self.output_dim):
            raise ValueError(
                f"`network` must map (N, {self.input_dim}) to (N, {self.output_dim}), got output shape {tuple(probe.shape)}"
            )
        for earlier in self.stage_networks:
            earlier.trainable = False
        self.stage_networks.append(network)
        self._epsilons.append(epsilon)
        self._stage_parameters.append(parameters)

    def pop_stage(self) -> keras.Model:
        """Removes the newest stage (e.g. one whose training failed) and unfreezes none of the rest."""
        if not self.stage_networks:
            raise ValueError("`pop_stage` needs a model with at least one stage, got 0 stages")
        self._epsilons.pop()
        self._stage_parameters.pop()
        network = self.stage_networks.pop()
        self.__dict__.get("_compiled_functions", {}).pop(id(network), None)
        return network

    @property
    def outputs_scalable(self) -> bool:
        """Whether every stage network ends in a linear ``Dense`` layer, so that :meth:`scale_stage_outputs`
        can multiply the stages' sum by a number."""
        return all(isinstance(n.layers[-1], keras.layers.Dense) and n.layers[-1].activation is keras.activations.linear
                   for n in self.stage_networks if getattr(n, "layers", None))

    @property
    def output_revision(self) -> int:
        """How many times :meth:`scale_stage_outputs` or :meth:`restore_stage_outputs` changed the stages'
        output weights (caches of a stage's values compare it)."""
        return self._output_revision

    def scale_stage_outputs(self, factor: float) -> list:
        """Multiplies the sum of the current stages, ``sum_j eps_j u_j`` (eq. 2.5; ``output_offset`` and
        ``output_scale`` stay), by ``factor``: the kernel and bias of every stage network's linear output
        layer; the prefactors ``eps_j`` stay as recorded.

        A least-squares PINN stage may rescale the stages it builds on (one more column of its solve,
        :class:`~msnn_tf.pinn.linearized.LinearizedStage`): a trained tanh stage 0 carries content that
        the new stage's sin features cannot represent, and the solve then removes it instead.

        Args:
            factor: A finite number.

        Returns:
            The previous output weights, for :meth:`restore_stage_outputs`.

        Raises:
            ValueError: if ``factor`` is not finite or a stage network does not end in a linear ``Dense``.
        """
        factor = float(factor)
        if not math.isfinite(factor):
            raise ValueError(f"`factor` must be a finite number, got {factor!r}")
        if not self.outputs_scalable:
            raise ValueError("`scale_stage_outputs` needs stage networks that end in a linear Dense layer")
        saved = []
        for network in self.stage_networks:
            layer = network.layers[-1]
            saved.append((layer.kernel.numpy(), layer.bias.numpy()))
            layer.kernel.assign(saved[-1][0] * factor)
            layer.bias.assign(saved[-1][1] * factor)
        self._output_revision += 1
        return saved

    def restore_stage_outputs(self, saved: list) -> None:
        """Puts back the output weights that :meth:`scale_stage_outputs` returned (bit for bit)."""
        if len(saved) > len(self.stage_networks):
            raise ValueError(f"`saved` holds {len(saved)} stages, the model {len(self.stage_networks)}")
        for network, (kernel, bias) in zip(self.stage_networks, saved):
            network.layers[-1].kernel.assign(kernel)
            network.layers[-1].bias.assign(bias)
        self._output_revision += 1

    def _lock_state(self):
        # Stages are added after the model is built, as keras.Sequential and Functional models
        # allow layers to be attached after build (they override this hook the same way).
        pass

    # ------------------------------------------------------------------ evaluation
    def build(self, input_shape):
        self.input_scaling.build(input_shape)
        self.built = True

    def scale_inputs(self, inputs):
        """``H(x)``: the inputs mapped to ``[-1, 1]``."""
        return self.input_scaling(ops.convert_to_tensor(inputs, dtype=self.compute_dtype))

    def stage_sum(self, scaled_inputs, num_stages: int | None = None):
        """``sum_j eps_j u_j`` over the first ``num_stages`` stages, in normalised output units."""
        count = self.num_stages if num_stages is None else int(num_stages)
        total = ops.zeros((ops.shape(scaled_inputs)[0], self.output_dim), dtype=self.compute_dtype)
        for network, epsilon in zip(self.stage_networks[:count], self._epsilons[:count]):
            total = total + epsilon * network(scaled_inputs)
        return total

    def call(self, inputs, num_stages: int | None = None):
        """Prediction of the first ``num_stages`` stages (all by default), in data units."""
        scaled = self.scale_inputs(inputs)
        offset = ops.convert_to_tensor(np.asarray(self.output_offset), dtype=self.compute_dtype)
        scale = ops.convert_to_tensor(np.asarray(self.output_scale), dtype=self.compute_dtype)
        return offset + scale * self.stage_sum(scaled, num_stages)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def predict(self, x, batch_size: int | None = None, verbose=0, num_stages: int | None = None, **kwargs):
        """Predictions as a NumPy array of shape ``(N, output_dim)`` in the model's dtype (float64).

        Unlike ``keras.Model.predict``, whose data adapter casts NumPy inputs to ``floatx``
        (float32), this keeps every input bit: inputs are converted to the model's dtype, each stage
        network is evaluated by a compiled function traced once per stage, and eq. (2.5) is summed in
        that dtype, in batches of ``batch_size`` rows (all at once by default).
        """
        import tensorflow as tf

        dtype = np.dtype(self.compute_dtype)
        x = _input_matrix(x, self.input_dim, dtype)
        count = self.num_stages if num_stages is None else int(num_stages)
        if not 0 <= count <= self.num_stages:
            raise ValueError(f"`num_stages` must be between 0 and {self.num_stages}, got {num_stages!r}")
        if x.shape[0] == 0:
            return np.zeros((0, self.output_dim), dtype=dtype)
        if batch_size is None:
            # All rows at once unless a wide stage would hold more than PREDICT_NUMBERS numbers per
            # intermediate (a 2000-unit solved stage on a 201^2 grid took several GB at once).
            widest = max((layer.units for network in self.stage_networks[:count] for layer in dense_layers(network)),
                         default=1)
            step = x.shape[0] if x.shape[0] * widest <= PREDICT_NUMBERS else max(1, PREDICT_NUMBERS // widest)
        else:
            step = int(batch_size)
        parts = []
        for i in range(0, x.shape[0], step):
            scaled = self._compiled("scale", self.input_scaling)(tf.constant(x[i:i + step]))
            total = np.zeros((scaled.shape[0], self.output_dim), dtype=dtype)
            for network, epsilon in zip(self.stage_networks[:count], self._epsilons[:count]):
                total = total + dtype.type(epsilon) * self._compiled(id(network), network)(scaled).numpy()
            parts.append(np.asarray(self.output_offset, dtype) + np.asarray(self.output_scale, dtype) * total)
        return np.concatenate(parts, axis=0)

    def _compiled(self, key, layer):
        """A compiled forward function of ``layer`` (model dtype), traced once and cached (not tracked)."""
        import tensorflow as tf

        cache = self.__dict__.setdefault("_compiled_functions", {})
        if key not in cache:
            width = self.input_dim
            cache[key] = tf.function(lambda inputs: layer(inputs), input_signature=[tf.TensorSpec((None, width), self.compute_dtype)],
                                     autograph=False)
        return cache[key]

    # ------------------------------------------------------------------ persistence
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "lower": self.lower,
                "upper": self.upper,
                "output_offset": list(self.output_offset),
                "output_scale": list(self.output_scale),
                "stages": [keras.saving.serialize_keras_object(n) for n in self.stage_networks],
                "epsilons": list(self._epsilons),
                "stage_parameters": self.stage_parameters if any(p is not None for p in self._stage_parameters) else None,
            }
        )
        if self.metadata is not None:  # only when set: configs of models without it stay as they were
            config["metadata"] = json_ready(self.metadata)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["stages"] = [keras.saving.deserialize_keras_object(s, custom_objects=custom_objects) for s in config.get("stages", [])]
        model = cls(**config)
        return model

    def export(self, filepath, format="tf_saved_model", verbose=False, input_signature=None, **kwargs):
        """Writes a TensorFlow SavedModel whose ``serve`` signature maps ``(N, d)`` to ``(N, m)`` (model dtype).

        The directory loads with ``tf.saved_model.load`` alone; msnn_tf need not be importable. A model
        with unknown parameters (:attr:`parameters`, section 4) also gets a ``parameters`` signature
        without inputs that returns them as float64 scalars: ``loaded.signatures["parameters"]()``
        (or ``loaded.parameters()``) gives ``{"lam": <tf.Tensor 0.5>}``.
        """
        import tensorflow as tf

        if input_signature is None:
            input_signature = [tf.TensorSpec(shape=(None, self.input_dim), dtype=self.compute_dtype, name="x")]
        values = self.parameters
        if not values or format != "tf_saved_model":
            return super().export(os.fspath(filepath), format=format, verbose=verbose, input_signature=input_signature,
                                  **kwargs)
        archive = keras.export.ExportArchive()
        archive.track(self)
        archive.add_endpoint("serve", self.call, input_signature)
        constants = {name: tf.constant(value, tf.float64) for name, value in values.items()}
        archive.add_endpoint("parameters", tf.function(lambda: dict(constants), input_signature=[]))
        archive.write_out(os.fspath(filepath), verbose=verbose)


def save_model_atomically(model: StagedModel, filepath) -> None:
    """``model.save`` to a temporary ``.keras`` file beside ``filepath``, then ``os.replace``: a save that is
    interrupted (or killed) leaves the previous file whole.

    Raises:
        ValueError: ``filepath`` does not end in ``.keras``.
    """
    path = os.fspath(filepath)
    if not path.endswith(".keras"):
        raise ValueError(f"`filepath` must end in '.keras', got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp.keras")
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def load_staged_model(filepath) -> StagedModel:
    """The :class:`StagedModel` of a ``.keras`` file.

    Raises:
        ValueError: naming the file when it is missing, truncated or corrupted, or holds another model.
    """
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise ValueError(f"no .keras file at {path!r}")
    try:
        model = keras.saving.load_model(path)
    except Exception as error:  # a damaged archive fails in zipfile, h5py, json or Keras: one message for all
        raise ValueError(f"{path!r} is not a readable .keras model (truncated or corrupted?): "
                         f"{type(error).__name__}: {error}") from None
    if not isinstance(model, StagedModel):
        raise ValueError(f"{path!r} does not hold a StagedModel, got {type(model).__name__}")
    return model


#: ``msnn.load_model(path)``: the :class:`StagedModel` of a ``.keras`` file (see :func:`load_staged_model`).
load_model = load_staged_model


def _input_matrix(x, input_dim: int, dtype) -> np.ndarray:
    """``x`` as ``(N, input_dim)`` of ``dtype`` (a 1-D ``x`` is a column when ``input_dim`` is 1)."""
    x = np.asarray(x, dtype=dtype)
    if x.ndim == 1 and input_dim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != input_dim:
        raise ValueError(f"`x` must have shape (N, {input_dim}), got shape {x.shape}")
    return x


class ExportedModel:
    """A SavedModel written by :meth:`StagedModel.export`, loaded with TensorFlow alone.

    ``predict(x)`` calls its ``serve`` signature on float64 ``(N, d)`` inputs in blocks and returns
    float64 ``(N, m)``: the values :meth:`StagedModel.predict` gives (``tests/test_hostile_input.py``).

    Args:
        directory: The SavedModel directory.

    Raises:
        ValueError: naming the directory when it is not a SavedModel, its variables are missing or it
            does not load (e.g. a directory copied without ``variables/``).
    """

    def __init__(self, directory):
        import tensorflow as tf

        path = os.fspath(directory)
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"{path!r} is not a SavedModel directory (no saved_model.pb)")
        if not os.path.isfile(os.path.join(path, "variables", "variables.index")):
            raise ValueError(f"{path!r}: the SavedModel's variables are missing (variables/variables.index): "
                             "copy the whole directory, or export the model again")
        try:
            loaded = tf.saved_model.load(path)
            signature = loaded.signatures["serve"]
        except Exception as error:  # damaged protobuf or variables: one message for all
            raise ValueError(f"{path!r} is not a loadable SavedModel (damaged?): {type(error).__name__}: "
                             f"{str(error).splitlines()[0] if str(error) else ''}") from None
        (spec,) = signature.structured_input_signature[1].values()
        self._loaded, self.path = loaded, path
        self.input_dim, self.dtype = int(spec.shape[-1]), spec.dtype
        (output,) = tf.nest.flatten(signature.structured_outputs)
        self.output_dim = int(output.shape[-1])

    def predict(self, x, block_rows: int = 100_000) -> np.ndarray:
        """``serve(x)`` as float64 ``(N, m)``, in blocks of ``block_rows`` rows."""
        import tensorflow as tf

        x = _input_matrix(x, self.input_dim, np.float64)
        parts = [np.asarray(self._loaded.serve(tf.constant(x[lo:lo + block_rows], self.dtype)), dtype=np.float64)
                 for lo in range(0, x.shape[0], block_rows)]
        return np.concatenate(parts) if parts else np.zeros((0, self.output_dim))
