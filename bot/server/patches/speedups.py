"""Removes avoidable per-message work from Rasa 3.6, without changing what it does.

Found with `python -m bench.profile` (see bench/README.md, "History"):

- Rasa checks every action server response with `jsonschema.validate(result, schema)`,
  which first validates the (constant) schema itself against the JSON Schema meta-schema:
  about 100 ms of CPU per custom action call with jsonschema 4.17. Here the validator is
  built once and only the response is validated, against the same schema, raising the
  same ValidationError.
- Every event read back from the tracker store looks its class up by walking all Event
  subclasses (`Event.resolve_by_type`). Here the lookup goes through a dict built from
  the same walk, first match first, as the original; unknown names still go to the
  original (its defaults and errors stay as they are).
- Each message runs the model's graphs three or so times (NLU, then the policies before
  each action), and Rasa rebuilds a dask task graph for every run. Here the order of the
  nodes is worked out once and the same nodes are called with the same inputs.
- DIET and the ResponseSelector each join the message's sparse features (count vectors,
  lexical features) with scipy's general block-matrix code and a deep copy: about 0.9 ms
  per classifier per message. Here the same COO matrix (same values, order, dtypes and
  shape) is built with one concatenation.
- DIET and the ResponseSelector each call their TensorFlow graph through `tf.function`,
  which spends about 1.3 ms per call matching the inputs against its signature before
  the graph runs for 0.6 ms. Here the graph that `tf.function` traced for that signature
  is called with the same tensors directly; inputs that do not fit the signature go the
  original way.
- Before each action the RulePolicy asks for the states of the whole conversation so far,
  which Rasa rebuilds by replaying every event from the start: three times a message, so
  a message costs more the longer the conversation is (about 2 ms per prediction after
  a dozen messages). The states of earlier turns cannot change while events are only
  added, so here each tracker keeps the states it has worked out and the replayed copy,
  and only new events are replayed; if the applied events are not an extension of the
  ones seen before (a rewind, a restart, a revert), everything is worked out again, as
  Rasa does. Callers get their own copies of the states.

`install_speedups()` is idempotent. The Rasa server installs it at start-up through
bot.server.patches.install(), which first checks the versions these were written for;
TMS_SPEEDUPS=0 leaves Rasa as it is, to measure the difference (TMS_SPEEDUPS=a,b installs
only the named ones, see SPEEDUPS).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Set, Tuple, Type

from bot.server.patches import replace

_INSTALLED = False


def _install_action_response_validation() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)  # once, instead of on every response
    validator = validator_class(schema)

    def validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
        error: ValidationError | None = best_match(validator.iter_errors(result))
        if error is not None:
            error.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
            raise error
        return True

    replace(RemoteAction, "_validate_action_result", validate_action_result)


def _install_event_type_cache() -> None:
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    by_name: Dict[str, Type[Event]] = {}
    for cls in rasa.shared.utils.common.all_subclasses(Event):
        by_name.setdefault(cls.type_name, cls)

    def resolve_by_type(type_name: str, default: Type[Event] | None = None) -> Type[Event] | None:
        found = by_name.get(type_name)
        return found if found is not None else original(type_name, default)

    replace(Event, "resolve_by_type", staticmethod(resolve_by_type))


def _install_sequential_graph_runner() -> None:
    """Runs the model's graphs (NLU, then the policies) without rebuilding them every time.

    Rasa's DaskGraphRunner.run works out the sub-graph for its targets, builds a dask task
    graph and hands it to dask's scheduler, on each of the three or so graph runs per
    message. The nodes, what each needs and the targets never change, so here the
    execution order is worked out once per set of targets and the same nodes are called
    with the same inputs, in an order dask could also have chosen (every node after what
    it needs). Inputs, input-name clashes and errors are handled as in DaskGraphRunner.
    """
    import logging

    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    logger = logging.getLogger("rasa.engine.runner.dask")

    def plan(runner: DaskGraphRunner, targets: Tuple[str, ...]) -> List[Tuple[str, Any, Tuple[str, ...]]]:
        plans = runner.__dict__.setdefault("_sequential_plans", {})
        if targets not in plans:
            schema = runner._graph_schema.minimal_graph_schema(list(targets))
            order: List[str] = []
            seen: Set[str] = set()

            def visit(name: str) -> None:
                if name in seen or name not in schema.nodes:
                    return
                seen.add(name)
                for parent in schema.nodes[name].needs.values():
                    visit(parent)
                order.append(name)

            for target in targets:
                visit(target)
            plans[targets] = [
                (name, runner._instantiated_nodes[name], tuple(schema.nodes[name].needs.values()))
                for name in order
            ]
        return plans[targets]

    def run(
        self: DaskGraphRunner,
        inputs: Dict[str, Any] | None = None,
        targets: List[str] | None = None,
    ) -> Dict[str, Any]:
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        steps = plan(self, run_targets)
        results: Dict[str, Any] = {}
        for input_name, input_value in (inputs or {}).items():
            if isinstance(input_value, str) and any(input_value == name for name, _, _ in steps):
                raise GraphRunError(
                    f"Input value '{input_value}' clashes with a node name. Make sure "
                    f"that none of the input names passed to the `run` method are the "
                    f"same as node names in the graph schema."
                )
            results[input_name] = (input_name, input_value)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                f"Running graph with inputs: {inputs}, targets: {targets} "
                f"and {self._execution_context}."
            )
        try:
            for name, node, needs in steps:
                if name in results:  # an input of the same name replaces the node, as in dask
                    continue
                # As dask does: a need that is neither a node nor an input is passed as its name.
                results[name] = node(*(results.get(need, need) for need in needs))
            return dict(results[target] for target in run_targets)
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    replace(DaskGraphRunner, "run", run)


def hstack_coo(blocks: List[Any]) -> Any:
    """scipy.sparse.hstack(blocks) for COO blocks with the same number of rows, without
    scipy's general block-matrix checks: the same values, order, dtypes and shape."""
    import numpy as np
    import scipy.sparse
    from scipy.sparse._sputils import get_index_dtype, upcast

    rows = blocks[0].shape[0]
    width = sum(block.shape[1] for block in blocks)
    index_dtype = get_index_dtype(maxval=max(rows, width))
    offsets = np.cumsum([0] + [block.shape[1] for block in blocks[:-1]])
    data = np.concatenate([block.data for block in blocks]).astype(upcast(*[b.dtype for b in blocks]), copy=False)
    row = np.concatenate([block.row for block in blocks]).astype(index_dtype, copy=False)
    col = np.concatenate([block.col.astype(index_dtype) + index_dtype(offset) for block, offset in zip(blocks, offsets, strict=True)])
    return scipy.sparse.coo_matrix((data, (row, col)), shape=(rows, width))


def _install_sparse_feature_combination() -> None:
    import scipy.sparse
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    original = Message._combine_features

    def combine_features(features: List[Features], featurizers: List[str]) -> Features | None:
        matrices = [f.features for f in features]
        if (
            len(features) < 2
            or not all(isinstance(m, scipy.sparse.coo_matrix) for m in matrices)
            or len({m.shape[0] for m in matrices}) != 1
        ):
            return original(features, featurizers)  # copies, dense features and errors as Rasa has them
        return Features(hstack_coo(matrices), features[0].type, features[0].attribute, featurizers)

    replace(Message, "_combine_features", staticmethod(combine_features))


def _install_direct_graph_call() -> None:
    import weakref

    import tensorflow as tf
    from keras.utils import tf_utils
    from rasa.shared.constants import DIAGNOSTIC_DATA
    from rasa.utils.tensorflow.models import RasaModel

    original = RasaModel._rasa_predict
    traced: weakref.WeakKeyDictionary[RasaModel, Tuple[Any, List[Any]]] = weakref.WeakKeyDictionary()

    def rasa_predict(self: RasaModel, batch_in: Tuple[Any, ...]) -> Dict[str, Any]:
        if self._run_eagerly or self._tf_predict_step is None or not self.prepared_for_prediction:
            return original(self, batch_in)  # the first call traces the graph
        if self not in traced:
            concrete = self._tf_predict_step.get_concrete_function()
            traced[self] = (concrete, list(concrete.structured_input_signature[0][0]))
        concrete, specs = traced[self]
        if len(batch_in) != len(specs) or not all(
            getattr(value, "dtype", None) == spec.dtype.as_numpy_dtype
            and len(getattr(value, "shape", ())) == len(spec.shape)
            for value, spec in zip(batch_in, specs, strict=True)
        ):
            return original(self, batch_in)
        if self._training is not False:
            self._training = False
        flat = [tf.constant(value, dtype=spec.dtype) for value, spec in zip(batch_in, specs, strict=True)]
        outputs = tf_utils.sync_to_numpy_or_python_type(concrete._call_flat(flat, concrete.captured_inputs))
        if DIAGNOSTIC_DATA in outputs:
            outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
        return outputs

    replace(RasaModel, "_rasa_predict", rasa_predict)


class _PriorStates:
    """States of a tracker's prior turns, worked out once, and the replay that gave them."""

    def __init__(self, domain: Any, replay: Any) -> None:
        self.domain = domain
        self.replay = replay
        self.events: List[Any] = []
        self.states: List[Dict[str, Any]] = []


def _copy_state(state: Dict[str, Any]) -> Dict[str, Any]:
    # Sub-states are dicts of strings and tuples; callers may change the dicts (Rasa's
    # _choose_last_user_input deletes keys), so each gets its own.
    return {key: dict(value) if isinstance(value, dict) else value for key, value in state.items()}


def _install_incremental_prior_states() -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted

    original = Domain.states_for_tracker_history

    def states_for_tracker_history(
        self: Domain,
        tracker: Any,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: Dict[str, Any] | None = None,
    ) -> List[Dict[str, Any]]:
        if ignore_rule_only_turns:
            # Hidden turns depend on what follows them: left to Rasa.
            return original(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        applied = tracker.applied_events()
        caches: Dict[bool, _PriorStates] = tracker.__dict__.setdefault("_prior_states", {})
        cached = caches.get(omit_unset_slots)
        if (
            cached is None
            or cached.domain is not self
            or len(cached.events) > len(applied)
            or any(seen is not event for seen, event in zip(cached.events, applied, strict=False))
        ):
            cached = caches[omit_unset_slots] = _PriorStates(self, tracker.init_copy())
        # As Rasa's generate_all_prior_trackers: a state before each action, then the last.
        for event in applied[len(cached.events) :]:
            if isinstance(event, ActionExecuted):
                state = self.get_active_state(cached.replay, omit_unset_slots=omit_unset_slots)
                # Own copies: Rasa's states share dicts with the replayed tracker.
                cached.states.append(_copy_state(self._clean_state(state)))
            cached.replay.update(event)
            cached.events.append(event)
        last = self._clean_state(self.get_active_state(cached.replay, omit_unset_slots=omit_unset_slots))
        return [_copy_state(state) for state in cached.states] + [_copy_state(last)]

    replace(Domain, "states_for_tracker_history", states_for_tracker_history)


SPEEDUPS = {
    "action_response_schema": _install_action_response_validation,
    "event_type_cache": _install_event_type_cache,
    "sequential_graph_runner": _install_sequential_graph_runner,
    "sparse_feature_combination": _install_sparse_feature_combination,
    "direct_graph_call": _install_direct_graph_call,
    "incremental_prior_states": _install_incremental_prior_states,
}


def install_speedups(environ: Mapping[str, str] = os.environ) -> List[str]:
    """Installs the speed-ups once and returns their names; $TMS_SPEEDUPS=0 installs none,
    "a,b" only those named. Call it through bot.server.patches.install(), which checks versions."""
    global _INSTALLED
    choice = environ.get("TMS_SPEEDUPS", "1").strip()
    if _INSTALLED or choice == "0":
        return []
    names = list(SPEEDUPS) if choice in ("", "1") else [n.strip() for n in choice.split(",") if n.strip()]
    for name in names:
        SPEEDUPS[name]()
    _INSTALLED = True
    return names


def forget_installed() -> None:
    """After bot.server.patches.uninstall_all() has put Rasa's originals back."""
    global _INSTALLED
    _INSTALLED = False
