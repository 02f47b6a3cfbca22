"""The stage loop of the multi-stage method, written once for every objective.

An objective says *what* is fitted (regression: data residues; PINN: equation residuals and
conditions): it plans each stage from the residue of the stages before it, solves the stage with one
of the shared solvers (:mod:`msnn_tf.engine.solvers`), measures the model and writes the report. The
loop says *how* stages follow each other:

1. ``plan = objective.plan_stage(stage)``; callbacks' ``on_stage_begin(stage, plan)``.
2. ``outcome = objective.solve_stage(plan, hooks, stage_start)`` (blocks go to ``on_block_end``).
3. The accept/discard rule, the same for every objective: a stage is kept when its solve ended
   without failure (finite losses) and the objective's measure improves once the stage is added
   (``objective.rejection(plan, before, after)`` is ``None``); otherwise it is removed again, every
   earlier stage stays as it was (a rescaling of them, ``StageOutcome.frozen_scale``, is undone), a
   ``RuntimeWarning`` says why and training ends.
4. The report goes into the history; ``on_stage_end(stage, report)``; training also ends when the
   objective's goal is met (``objective.stop_reason(report)``) or a callback set ``stop_training``.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any

from msnn_tf.engine.plan import StagePlan
from msnn_tf.engine.solvers import BlockHooks

__all__ = ["StageObjective", "StageOutcome", "run_stages"]


@dataclasses.dataclass(frozen=True)
class StageOutcome:
    """What solving a stage produced.

    Attributes:
        network: The solved stage network (added to the model with the plan's epsilon if accepted).
        failure: Why the solve failed (a non-finite loss), else ``None``.
        rejection: Why the stage must be dropped although it was solved (e.g. a least-squares stage
            whose best held-out error is no lower than without it), else ``None``.
        details: Solver results the report needs (e.g. the :class:`~msnn_tf.engine.TrainedStage`).
        parameters: The unknown parameters' values after the stage (``{name: float}``, section 4),
            stored with the stage in the model, or ``None``.
        frozen_scale: The factor the solve puts on the sum of the earlier stages (1: they stay as
            they are; a least-squares PINN stage may rescale them, ``StagedModel.scale_stage_outputs``);
            undone if the stage is discarded.
    """

    network: Any
    failure: str | None = None
    rejection: str | None = None
    details: Any = None
    parameters: Any = None
    frozen_scale: float = 1.0


class StageObjective:
    """What the stage loop trains; subclasses supply the methods below.

    Attributes:
        model: The :class:`~msnn_tf.StagedModel` the stages are added to.
    """

    model = None

    @property
    def next_stage(self) -> int:
        """Index of the next stage (the number of stages the model holds)."""
        return self.model.num_stages

    def plan_stage(self, stage: int) -> StagePlan:
        raise NotImplementedError

    def solve_stage(self, plan: StagePlan, hooks: BlockHooks, stage_start: float) -> StageOutcome:
        raise NotImplementedError

    def measure(self, plan: StagePlan) -> Any:
        """The objective's measure of the current model (errors, residual), compared by :meth:`rejection`."""
        raise NotImplementedError

    def rejection(self, plan: StagePlan, before, after) -> str | None:
        """Why a solved stage that gave ``after`` (from ``before``) must be dropped, else ``None``."""
        raise NotImplementedError

    def report(self, plan: StagePlan, outcome: StageOutcome, after, accepted: bool, message: str, wall_time: float):
        raise NotImplementedError

    def stop_reason(self, report) -> str | None:
        """Why training should end after an accepted stage (e.g. a target error reached), else ``None``."""
        return None


def _settle(objective: StageObjective, plan: StagePlan, outcome: StageOutcome):
    """Adds the stage, or drops it by the rule of the module docstring; returns ``(after, accepted, message)``."""
    before = objective.measure(plan)
    if outcome.failure is not None:
        message, after = f"non-finite loss, stage discarded, earlier stages kept ({outcome.failure})", before
    else:
        saved = None if outcome.frozen_scale == 1.0 else objective.model.scale_stage_outputs(outcome.frozen_scale)
        objective.model.add_stage(outcome.network, plan.epsilon, outcome.parameters)
        after = objective.measure(plan)
        message = outcome.rejection or objective.rejection(plan, before, after)
        if message is not None:
            objective.model.pop_stage()
            if saved is not None:
                objective.model.restore_stage_outputs(saved)
            after = before
    if message is not None:
        # stacklevel 4: _settle <- run_stages <- the solver's fit <- the user's call.
        warnings.warn(f"stage {plan.stage}: {message}", RuntimeWarning, stacklevel=4)
    return after, message is None, message or "ok"


def run_stages(objective: StageObjective, num_stages: int, callbacks, history):
    """Trains up to ``num_stages`` stages of ``objective``; appends their reports to ``history``
    (a :class:`~msnn_tf.TrainingHistory`) and returns it."""
    start = time.perf_counter()
    callbacks.stop_training = False
    callbacks.on_fit_begin()
    message = f"trained {num_stages} stage(s)"
    for _ in range(num_stages):
        stage = objective.next_stage
        stage_start = time.perf_counter()
        plan = objective.plan_stage(stage)
        callbacks.on_stage_begin(stage, plan)
        outcome = objective.solve_stage(plan, BlockHooks(callbacks, stage), stage_start)
        after, accepted, stage_message = _settle(objective, plan, outcome)
        report = objective.report(plan, outcome, after, accepted, stage_message, time.perf_counter() - stage_start)
        history.stages.append(report)
        callbacks.on_stage_end(stage, report)
        reason = (f"stopped at stage {stage}: {stage_message}" if not accepted else
                  objective.stop_reason(report) or
                  (f"stopped by a callback after stage {stage}" if callbacks.stop_training else None))
        if reason is not None:
            message = reason
            break
    history.message = message
    history.wall_time += time.perf_counter() - start
    callbacks.on_fit_end(history)
    return history
