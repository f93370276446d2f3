"""The base of this package's policies: nothing to learn, their behaviour is code and settings."""

from __future__ import annotations

from typing import Any, List

from rasa.core.policies.policy import Policy, SupportedData
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain


class UntrainedPolicy(Policy):
    """A policy that reads the conversation as it is; training stores nothing."""

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def train(self, training_trackers: List[Any], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource
