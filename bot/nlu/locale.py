"""Turns the locale a channel sends in message metadata into a `region` entity.

The `crisis_region` slot is filled from it by Rasa itself (no action server), and
`utter_crisis` has variations per region, so crisis lines match where the person is.
Unknown or missing locales leave the slot alone: the default reply covers the US and
tells everyone else how to find a local line.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.code_version import PackageFingerprinted

REGION_ENTITY = "region"
SUPPORTED_REGIONS = {"US", "CA", "GB", "IE", "AU"}
# The responses' variations without a region condition are the US ones (with a pointer for
# everyone else), and variations conditioned on `crisis_region: null` assume the slot is
# empty there: so the US leaves the slot empty rather than setting "US".
DEFAULT_REGION = "US"
_LOCALE = re.compile(r"^[a-z]{2,3}[-_]([A-Za-z]{2})$")


def region_of(locale: Any) -> Optional[Text]:
    """"en-GB" -> "GB"; None for anything not a supported language-REGION locale."""
    if not isinstance(locale, str):
        return None
    match = _LOCALE.match(locale.strip())
    region = match.group(1).upper() if match else None
    if region == "UK":
        region = "GB"
    return region if region in SUPPORTED_REGIONS else None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class RegionFromMetadata(PackageFingerprinted, GraphComponent):
    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RegionFromMetadata:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            metadata = message.get("metadata") or {}
            region = region_of(metadata.get("locale")) if isinstance(metadata, dict) else None
            if region and region != DEFAULT_REGION:
                entity = {"entity": REGION_ENTITY, "value": region, "start": 0, "end": 0,
                          "confidence_entity": 1.0, "extractor": type(self).__name__}
                message.set(ENTITIES, [*(message.get(ENTITIES) or []), entity], add_to_output=True)
        return messages
