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
