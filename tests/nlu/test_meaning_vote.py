"""The meaning vote: DIET + ResponseSelector averaged with a classifier on the embedding."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.meaning_vote import MeaningVote
from bot.nlu.sentence_embeddings import EMBEDDING_KEY

LABELS = ["faq/session_length", "faq/side_effects", "greet"]
# A 3-dimensional "embedding" whose axes mean one label each: the logistic regression's
# probabilities are then known exactly (softmax of 4 * vector).
COEF = np.eye(3, dtype=np.float32) * 4.0
INTERCEPT = np.zeros(3, dtype=np.float32)
CONFIG = {"weight": 0.5, "threshold": 0.4, "ambiguity_threshold": 0.2}


@pytest.fixture
def vote(tmp_path):
    storage = LocalModelStorage(tmp_path)
    return MeaningVote({**MeaningVote.get_default_config(), **CONFIG}, storage, Resource("vote"), LABELS, COEF, INTERCEPT)


def parsed(text, faq, answers, other=None, embedding=None):
    """A message as DIET and the ResponseSelector leave it."""
    message = Message(data={"text": text})
    ranking = [{"name": "faq", "confidence": faq}, *(other or [])]
    message.set("intent", max(ranking, key=lambda e: e["confidence"]), add_to_output=True)
    message.set("intent_ranking", ranking, add_to_output=True)
    selector_ranking = [{"intent_response_key": key, "confidence": c} for key, c in answers]
    message.set("response_selector", {"all_retrieval_intents": ["faq"], "faq": {
        "response": {"responses": [{"text": "x"}], "confidence": answers[0][1],
                     "intent_response_key": answers[0][0], "utter_action": f"utter_{answers[0][0]}"},
        "ranking": selector_ranking}}, add_to_output=True)
    if embedding is not None:
        message.set(EMBEDDING_KEY, np.asarray(embedding, dtype=np.float32))
    return message


def answer_of(message):
    return message.get("response_selector")["faq"]["response"]["intent_response_key"]


def test_both_readings_agree_so_it_answers(vote):
    message = parsed("how long is a session", 0.95, [("faq/session_length", 0.9), ("faq/side_effects", 0.1)],
                     embedding=[1, 0, 0])
    vote.process([message])
    assert message.get("intent")["name"] == "faq"
    assert answer_of(message) == "faq/session_length"
    # 0.5 * 0.95 * 0.9 + 0.5 * softmax([4, 0, 0])[0]
    expected = 0.5 * 0.855 + 0.5 * np.exp(4) / (np.exp(4) + 2)
    assert message.get("intent")["confidence"] == pytest.approx(expected, abs=1e-6)


def test_meaning_corrects_an_unsure_answer_choice(vote):
    # DIET is sure it is an FAQ but torn between answers; the embedding is clear.
    message = parsed("how many wks do i gotta go", 0.99, [("faq/side_effects", 0.55), ("faq/session_length", 0.45)],
                     embedding=[1, 0, 0])
    vote.process([message])
    assert message.get("intent")["name"] == "faq"
    assert answer_of(message) == "faq/session_length"
    assert message.get("response_selector")["faq"]["response"]["responses"] == []  # the domain has the text
    assert message.get("response_selector")["faq"]["ranking"][0]["intent_response_key"] == "faq/session_length"


def test_disagreement_asks_again_and_keeps_the_likeliest_answers(vote):
    message = parsed("hmm", 0.99, [("faq/side_effects", 0.95), ("faq/session_length", 0.05)], embedding=[1, 0, 0])
    vote.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"
    ranking = [e["intent_response_key"] for e in message.get("response_selector")["faq"]["ranking"]]
    assert set(ranking[:2]) == {"faq/side_effects", "faq/session_length"}


def test_a_low_average_asks_again(vote):
    message = parsed("???", 0.3, [("faq/side_effects", 0.5), ("faq/session_length", 0.5)],
                     other=[{"name": "greet", "confidence": 0.3}], embedding=[0, 0, 0])
    vote.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"


def test_other_intents_win_on_their_own(vote):
    message = parsed("hello there", 0.02, [("faq/side_effects", 0.5), ("faq/session_length", 0.5)],
                     other=[{"name": "greet", "confidence": 0.98}], embedding=[0, 0, 1])
    vote.process([message])
    assert message.get("intent")["name"] == "greet"


@pytest.mark.parametrize("intent", ["crisis", "crisis_retracted"])
def test_crisis_readings_stay_first_for_the_crisis_detector(vote, intent):
    # If the detector finds no crisis it demotes the intent (bot/nlu/intents.py), and the
    # next entry must be this vote's decision, not DIET's next guess at any confidence.
    unsure = parsed("x", 0.04, [("faq/side_effects", 0.9), ("faq/session_length", 0.1)],
                    other=[{"name": intent, "confidence": 0.96}], embedding=[0, 0, 0])
    vote.process([unsure])
    assert unsure.get("intent") == {"name": intent, "confidence": 0.96}
    names = [e["name"] for e in unsure.get("intent_ranking")]
    assert names[:2] == [intent, "nlu_fallback"]
    assert names.count("nlu_fallback") == 1
    clear = parsed("x", 0.3, [("faq/session_length", 0.9), ("faq/side_effects", 0.1)],
                   other=[{"name": intent, "confidence": 0.7}], embedding=[1, 0, 0])
    vote.process([clear])
    assert [e["name"] for e in clear.get("intent_ranking")][:2] == [intent, "faq"]
    assert answer_of(clear) == "faq/session_length"


def test_without_trained_weights_diet_decides_alone(tmp_path):
    untrained = MeaningVote({**MeaningVote.get_default_config(), **CONFIG}, LocalModelStorage(tmp_path), Resource("v"))
    sure = parsed("how long is a session", 0.95, [("faq/session_length", 0.9), ("faq/side_effects", 0.1)],
                  embedding=[1, 0, 0])
    unsure = parsed("hmm", 0.9, [("faq/side_effects", 0.5), ("faq/session_length", 0.5)], embedding=[1, 0, 0])
    untrained.process([sure, unsure])
    assert answer_of(sure) == "faq/session_length" and sure.get("intent")["name"] == "faq"
    assert unsure.get("intent")["name"] == "nlu_fallback"


def test_trains_on_full_labels_and_loads_back(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("vote")
    rng = np.random.default_rng(0)
    examples = []
    for label, axis in (("faq/session_length", 0), ("faq/side_effects", 1), ("greet", 2)):
        for _ in range(10):
            vector = np.zeros(3, dtype=np.float32)
            vector[axis] = 1.0
            data = {"text": f"example {label}", "intent": label.split("/")[0]}
            if "/" in label:
                data["intent_response_key"] = label
            message = Message(data=data)
            message.set(EMBEDDING_KEY, vector + rng.normal(0, 0.05, 3).astype(np.float32))
            examples.append(message)
    trained = MeaningVote.create(MeaningVote.get_default_config(), storage, resource, None)
    trained.train(TrainingData(examples))
    loaded = MeaningVote.load(MeaningVote.get_default_config(), storage, resource, None)
    probabilities = loaded.embedding_probabilities(parsed("x", 1.0, [("faq/side_effects", 1.0)], embedding=[0, 1, 0]))
    assert set(probabilities) == set(LABELS)
    assert max(probabilities, key=probabilities.get) == "faq/side_effects"


def test_with_surface_features_the_wording_decides_where_the_embedding_cannot(tmp_path):
    """Every example has the same "embedding": only the n-grams tell the labels apart."""
    storage = LocalModelStorage(tmp_path)
    resource = Resource("vote")
    wordings = {
        "faq/session_length": ["how many mins is a sesh", "sesh length in mins", "mins per sesh?"],
        "faq/side_effects": ["any side fx", "side fx of tms", "bad side fx?"],
        "greet": ["heya", "heya there", "heya bot"],
    }
    examples = []
    for label, texts in wordings.items():
        for text in texts:
            data = {"text": text, "intent": label.split("/")[0]}
            if "/" in label:
                data["intent_response_key"] = label
            message = Message(data=data)
            message.set(EMBEDDING_KEY, np.ones(3, dtype=np.float32))
            examples.append(message)
    config = {**MeaningVote.get_default_config(), "surface": True}
    MeaningVote.create(config, storage, resource, None).train(TrainingData(examples))
    loaded = MeaningVote.load(config, storage, resource, None)
    for text, expected in (("sesh mins?", "faq/session_length"), ("side fx?", "faq/side_effects")):
        probabilities = loaded.embedding_probabilities(parsed(text, 1.0, [(expected, 1.0)], embedding=[1, 1, 1]))
        assert max(probabilities, key=probabilities.get) == expected, probabilities


# --- alone: no DIET before it (the pipeline in config.yml) ----------------------------------
ALONE_LABELS = ["faq/session_length", "faq/side_effects", "greet", "crisis"]


@pytest.fixture
def alone_vote(tmp_path):
    return MeaningVote({**MeaningVote.get_default_config(), **CONFIG}, LocalModelStorage(tmp_path), Resource("vote"),
                       ALONE_LABELS, np.eye(4, dtype=np.float32) * 4.0, np.zeros(4, dtype=np.float32))


def unparsed(text, embedding):
    """A message as the featurizers leave it: no intent yet."""
    message = Message(data={"text": text})
    message.set(EMBEDDING_KEY, np.asarray(embedding, dtype=np.float32))
    return message


def test_alone_it_answers_from_its_own_probabilities(alone_vote):
    message = unparsed("how long is a session", [1, 0, 0, 0])
    alone_vote.process([message])
    assert message.get("intent") == {"name": "faq", "confidence": pytest.approx(np.exp(4) / (np.exp(4) + 3))}
    assert answer_of(message) == "faq/session_length"
    selector = message.get("response_selector")
    assert selector["all_retrieval_intents"] == ["faq"]  # so Rasa sets full_retrieval_intent_name
    assert selector["faq"]["response"]["utter_action"] == "utter_faq/session_length"


def test_alone_an_unsure_reading_asks_again(alone_vote):
    message = unparsed("hmm", [1, 1, 0, 0])  # two answers exactly as likely
    alone_vote.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"


def test_alone_its_crisis_reading_goes_first_to_the_crisis_detector(alone_vote):
    message = unparsed("i cant do this anymore", [0, 0, 0, 1])
    alone_vote.process([message])
    crisis_confidence = np.exp(4) / (np.exp(4) + 3)
    assert message.get("intent") == {"name": "crisis", "confidence": pytest.approx(crisis_confidence)}
    # If the detector finds no crisis, the vote's own decision on the rest comes next:
    # the three other labels are equally likely, so it would ask again.
    assert [e["name"] for e in message.get("intent_ranking")][:2] == ["crisis", "nlu_fallback"]


def test_alone_a_crisis_label_that_is_not_first_does_not_lead(alone_vote):
    message = unparsed("hello", [0, 0, 1, 0.5])
    alone_vote.process([message])
    assert message.get("intent")["name"] == "greet"
    assert "crisis" not in [e["name"] for e in message.get("intent_ranking")]


def test_alone_an_unsure_crisis_reading_is_not_passed_on(tmp_path):
    vote = MeaningVote({**MeaningVote.get_default_config(), **CONFIG, "crisis_reading_threshold": 0.5},
                       LocalModelStorage(tmp_path), Resource("vote"), ALONE_LABELS,
                       np.eye(4, dtype=np.float32) * 4.0, np.zeros(4, dtype=np.float32))
    message = unparsed("blorp fizzle", [0, 0, 0.3, 0.35])  # crisis first, but at 0.43
    vote.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"
    assert "crisis" not in [e["name"] for e in message.get("intent_ranking")]
    sure = unparsed("i cant do this anymore", [0, 0, 0, 1])
    vote.process([sure])
    assert sure.get("intent")["name"] == "crisis"


def test_alone_it_leaves_its_likeliest_ordinary_reading_for_the_crisis_detector(alone_vote):
    from bot.nlu.intents import ORDINARY_READING_KEY

    ordinary = unparsed("how long is a session", [1, 0, 0, 0])
    crisis = unparsed("i cant do this anymore", [0, 0, 0, 1])
    alone_vote.process([ordinary, crisis])
    assert ordinary.get(ORDINARY_READING_KEY) == pytest.approx(np.exp(4) / (np.exp(4) + 3))
    # Crisis read first: the likeliest ordinary label is one of the three at exp(0).
    assert crisis.get(ORDINARY_READING_KEY) == pytest.approx(1 / (np.exp(4) + 3))
    assert ORDINARY_READING_KEY not in ordinary.as_dict(only_output_properties=True)  # not in the parse result


class RecordingEncoder:
    """Stands in for MiniLM: remembers what it was asked to embed, returns the label's axis."""

    def __init__(self) -> None:
        self.texts = []

    def encode(self, texts):
        self.texts.extend(texts)
        return np.stack([np.eye(3, dtype=np.float32)[0 if "sesh" in t or "session" in t else 1] for t in texts])


def faq_examples(texts_by_label):
    """Training examples of two FAQ labels, each embedded on its label's axis."""
    examples = []
    for label, texts in texts_by_label.items():
        for text in texts:
            message = Message(data={"text": text, "intent": "faq", "intent_response_key": label})
            message.set(EMBEDDING_KEY, np.eye(3, dtype=np.float32)[0 if label.endswith("length") else 1])
            examples.append(message)
    return examples


def trained_with_noisy_copies(tmp_path, texts_by_label, noisy_copies):
    """(the meaning vote trained with n-grams and `noisy_copies`, its examples, the encoder
    that recorded what it embedded)."""
    examples = faq_examples(texts_by_label)
    encoder = RecordingEncoder()
    config = {**MeaningVote.get_default_config(), "noisy_copies": noisy_copies, "surface": True}
    vote = MeaningVote(config, LocalModelStorage(tmp_path), Resource("vote"), encoder=encoder)
    vote.train(TrainingData(examples))
    return vote, examples, encoder


def test_noisy_copies_are_embedded_and_learned_beside_the_examples(tmp_path):
    from bot.nlu.noise import noisy_copy

    originals = {
        "faq/session_length": ["How long is each session?", "How many minutes does a session take?"],
        "faq/side_effects": ["What are the side effects?", "Are there any unpleasant effects?"],
    }
    vote, examples, encoder = trained_with_noisy_copies(tmp_path, originals, True)
    expected = [noisy_copy(m.get("text")) for m in examples]
    assert encoder.texts == [c for c, m in zip(expected, examples, strict=True) if c != m.get("text")]
    assert encoder.texts, "every example here is long enough for its copy to differ"
    # The n-grams' vocabulary is the examples' as written, not the copies' typos.
    vocabulary = set(vote._surface.words.vocabulary_)
    assert {"how", "session", "side", "effects"} <= vocabulary
    typo_words = {w for c in encoder.texts for w in c.lower().split()} - {
        w for m in examples for w in m.get("text").lower().replace("?", " ").split()
    }
    assert typo_words and not (typo_words & vocabulary)


def test_two_noisy_copies_are_one_per_seed_without_repeats(tmp_path):
    from bot.nlu.noise import noisy_copy

    texts = {
        "faq/session_length": ["How long is each session of treatment?", "How many minutes does a session take?"],
        "faq/side_effects": ["What are the side effects of the treatment?", "ok"],
    }
    _, examples, encoder = trained_with_noisy_copies(tmp_path, texts, 2)
    expected = []
    for message in examples:
        text = message.get("text")
        own = []  # a text's copies, each once, in seed order
        for copy in (noisy_copy(text, seed=0), noisy_copy(text, seed=1)):
            if copy != text and copy not in own:
                own.append(copy)
        expected += own
    assert encoder.texts == expected
    # The seeds give different copies of a long example; "ok" is too short to change.
    assert noisy_copy(texts["faq/side_effects"][0], seed=0) != noisy_copy(texts["faq/side_effects"][0], seed=1)
    assert not any(copy.lower().strip() == "ok" for copy in encoder.texts)


def test_without_noisy_copies_nothing_is_embedded_again(tmp_path):
    storage = LocalModelStorage(tmp_path)
    examples = faq_examples({"faq/session_length": ["one example 0", "another example 0"],
                             "faq/side_effects": ["one example 1", "another example 1"]})
    encoder = RecordingEncoder()
    MeaningVote(MeaningVote.get_default_config(), storage, Resource("vote"), encoder=encoder).train(
        TrainingData(examples)
    )
    assert encoder.texts == []


# --- interchangeable labels: a tie between closing words ------------------------------------
CLOSING_LABELS = ["goodbye", "thank", "faq/side_effects", "faq/session_length"]


def closing_vote(tmp_path, interchangeable):
    return MeaningVote({**MeaningVote.get_default_config(), **CONFIG, "interchangeable": interchangeable},
                       LocalModelStorage(tmp_path), Resource("vote"), CLOSING_LABELS,
                       np.eye(4, dtype=np.float32) * 4.0, np.zeros(4, dtype=np.float32))


def test_a_tie_between_interchangeable_labels_answers_the_likelier(tmp_path):
    message = unparsed("thanks bye", [1.0, 0.95, 0, 0])  # goodbye just ahead of thank
    closing_vote(tmp_path, ["thank", "goodbye"]).process([message])
    assert message.get("intent")["name"] == "goodbye"


def test_without_the_setting_the_same_tie_asks_again(tmp_path):
    message = unparsed("thanks bye", [1.0, 0.95, 0, 0])
    closing_vote(tmp_path, []).process([message])
    assert message.get("intent")["name"] == "nlu_fallback"


def test_a_tie_with_a_label_outside_the_group_still_asks_again(tmp_path):
    message = unparsed("thanks, side effects?", [1.0, 0, 0.95, 0])  # goodbye vs an FAQ answer
    closing_vote(tmp_path, ["thank", "goodbye"]).process([message])
    assert message.get("intent")["name"] == "nlu_fallback"


def test_interchangeable_labels_still_need_the_threshold_together(tmp_path):
    vote = MeaningVote({**MeaningVote.get_default_config(), **CONFIG, "threshold": 0.9,
                        "interchangeable": ["thank", "goodbye"]},
                       LocalModelStorage(tmp_path), Resource("vote"), CLOSING_LABELS,
                       np.eye(4, dtype=np.float32) * 4.0, np.zeros(4, dtype=np.float32))
    message = unparsed("hmm", [0.2, 0.15, 0.1, 0.1])  # every label near a quarter
    vote.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"
