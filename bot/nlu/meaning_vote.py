"""The intent and FAQ-answer classifier, and the decision to answer or to ask again.

A logistic regression on the sentence embedding (bot/nlu/sentence_embeddings.py: meaning,
"wks" ~ "weeks", "fits" ~ "seizures") with word and character n-grams beside it (`surface`,
bot/nlu/surface.py: exact wording, slang, typos), over full labels: every intent, and
every FAQ answer as "faq/<topic>". The best label is answered when its probability is at
least `threshold` and ahead of the next one by `ambiguity_threshold`; otherwise the intent
becomes `nlu_fallback` ("did you mean...?"), with the ranking kept so that the clarify step
offers the likeliest topics. It sets the FAQ answer the way Rasa's ResponseSelector would,
so Rasa's own `utter_faq` action answers it.

It used to be a second opinion averaged with DIET + ResponseSelector (which saw only word
and character counts); with the n-grams beside the embedding it did as well alone on the
dev split of tests/data/nlu_eval, and without those two TensorFlow models training takes
about a quarter of the time and the server far less memory (bench/README.md). Placed after
another intent classifier it still averages with it (`weight`: its own share).

Crisis decisions are not this component's: when its best label is `crisis` (or its
retraction), that reading stays first for the crisis detector that runs last, with this
classifier's decision on what else it could be right behind it, for when the detector
finds no crisis.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.code_version import PackageFingerprinted
from bot.nlu.intents import ORDINARY_READING_KEY
from bot.nlu.linear import fit_multinomial_logistic
from bot.nlu.minilm import MiniLMEncoder, shared_encoder
from bot.nlu.noise import noisy_copy
from bot.nlu.sentence_embeddings import message_embedding
from bot.nlu.surface import SurfaceFeatures

logger = logging.getLogger(__name__)

RESPONSE_SELECTOR = "response_selector"
# Left to the crisis detector (bot/nlu/crisis.py), which runs last.
CRISIS_INTENTS = frozenset({"crisis", "crisis_retracted"})


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class MeaningVote(PackageFingerprinted, GraphComponent):
    """Classifies intents and FAQ answers from the embedding and n-grams; answers or asks again."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "retrieval_intent": "faq",
            # Its share in the average with an earlier classifier, if any (0: that one alone).
            "weight": 0.5,
            # Below this averaged probability, or this close to the runner-up: ask again.
            "threshold": 0.4,
            "ambiguity_threshold": 0.2,
            # Logistic regression regularisation (chosen on the dev split).
            "C": 20.0,
            # Word and character n-grams beside the embedding (bot/nlu/surface.py).
            "surface": False,
            # Its own crisis reading goes to the crisis detector only when at least this sure
            # (alone, with no earlier classifier): on the dev split, crisis messages read as
            # crisis were read so with 0.49 or more (95% above 0.9), look-alikes read as
            # crisis with 0.33 or less.
            "crisis_reading_threshold": 0.0,
            # "balanced": every label weighs the same in training, however many examples were
            # written for it (1,050 crisis examples, 20 for "what can you do?"); None: as many.
            "class_weight": None,
            # The solver's iterations (L-BFGS); it stops earlier when it has converged.
            "max_iter": 3000,
            # The corrections L-BFGS keeps (scikit-learn's default: 10). See bot/nlu/linear.py.
            "solver_memory": 10,
            # Train on noisy copies of every example as well (bot/nlu/noise.py: shorthand,
            # typos), embedded like the others; the n-grams' vocabulary stays the originals'.
            # How many copies per example, each from its own seed (true: one).
            "noisy_copies": 0,
            # Labels whose replies can stand in for each other: a tie among them is no reason
            # to ask again ("thanks bye": goodbye 0.52, thank 0.48). Their shares add up
            # against `threshold`, and the likelier one is answered.
            "interchangeable": [],
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        labels: Optional[List[Text]] = None,
        coef: Optional[np.ndarray] = None,
        intercept: Optional[np.ndarray] = None,
        surface: Optional[SurfaceFeatures] = None,
        encoder: Optional[MiniLMEncoder] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._labels = labels or []
        self._coef = coef
        self._intercept = intercept
        self._surface = surface
        self._encoder = encoder

    @property
    def encoder(self) -> MiniLMEncoder:
        """The sentence embedding's encoder, for the noisy copies (the featurizer's own)."""
        if self._encoder is None:
            self._encoder = shared_encoder()
        return self._encoder

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MeaningVote:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MeaningVote:
        try:
            with model_storage.read_from(resource) as directory, np.load(directory / "vote.npz") as arrays:
                labels = [str(label) for label in arrays["labels"]]
                surface = None
                if (directory / "surface.joblib").exists():
                    import joblib

                    surface = joblib.load(directory / "surface.joblib")
                return cls(config, model_storage, resource, labels, arrays["coef"], arrays["intercept"], surface)
        except (ValueError, FileNotFoundError):
            logger.warning("The meaning vote has no trained weights; an earlier classifier, if any, decides alone.")
            return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "joblib"]

    # --- training ------------------------------------------------------------------------
    @staticmethod
    def label_of(message: Message) -> Text:
        return message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        examples = [
            m for m in training_data.intent_examples
            if message_embedding(m) is not None and not (m.get(TEXT) or "").startswith("/")
        ]
        labels = [self.label_of(m) for m in examples]
        if len(set(labels)) < 2:
            return self._resource
        texts = [m.get(TEXT) for m in examples]
        features = np.stack([message_embedding(m) for m in examples])
        dimensions = features.shape[1]  # the embedding's columns, first in every row
        if self._config["surface"]:
            # Fitted on the examples as written: the same n-grams as the crisis detector's,
            # so one message's row serves both (bot/nlu/surface.py).
            self._surface = SurfaceFeatures().fit(texts)
        if self._config["noisy_copies"]:
            copies = [
                (copy, label)
                for text, label in zip(texts, labels, strict=True)
                for copy in self.noisy_copies_of(text)
            ]
            if copies:
                features = np.vstack([features, self.encoder.encode([copy for copy, _ in copies])])
                texts = texts + [copy for copy, _ in copies]
                labels = labels + [label for _, label in copies]
        if self._surface is not None:
            features = self._surface.transform(texts, features)
        if self._config["class_weight"] is None:
            # The same model as scikit-learn's, fitted with the embedding's columns as a dense
            # block (bot/nlu/linear.py): 45 s instead of 55 s.
            classes, coef, intercept = fit_multinomial_logistic(
                features, labels, self._config["C"], self._config["max_iter"],
                dense_columns=dimensions,
                memory=self._config["solver_memory"],
            )
        else:
            model = LogisticRegression(
                C=self._config["C"], max_iter=self._config["max_iter"], class_weight=self._config["class_weight"]
            )
            with warnings.catch_warnings():
                # An iteration budget set in config.yml on purpose, not a failure to converge.
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(features, labels)
            classes, coef, intercept = model.classes_, model.coef_, model.intercept_
        self._labels = [str(label) for label in classes]
        self._coef, self._intercept = coef.astype(np.float32), intercept.astype(np.float32)
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / "vote.npz", labels=np.array(self._labels), coef=self._coef,
                     intercept=self._intercept)
            if self._surface is not None:
                import joblib

                joblib.dump(self._surface, directory / "surface.joblib")
        return self._resource

    def noisy_copies_of(self, text: Text) -> List[Text]:
        """The text's distinct noisy copies that differ from it, one per seed."""
        count = int(self._config["noisy_copies"])  # true counts as one
        copies = dict.fromkeys(noisy_copy(text, seed=seed) for seed in range(count))
        return [copy for copy in copies if copy != text]

    # --- prediction ----------------------------------------------------------------------
    def embedding_probabilities(self, message: Message) -> Dict[Text, float]:
        vector = message_embedding(message)
        if vector is None or self._coef is None:
            return {}
        if self._surface is not None:
            row = self._surface.message_row(message, vector)
            probabilities = softmax(np.asarray(row @ self._coef.T).ravel() + self._intercept)
        else:
            probabilities = softmax(self._coef @ vector + self._intercept)
        return dict(zip(self._labels, probabilities.tolist(), strict=True))

    def classifier_probabilities(self, message: Message) -> Dict[Text, float]:
        """Full-label probabilities from an earlier DIET + ResponseSelector, if any ({} if none)."""
        faq = self._config["retrieval_intent"]
        ranking = [e for e in message.get(INTENT_RANKING_KEY) or [] if e.get("name")]
        probabilities = {e["name"]: float(e.get("confidence") or 0.0) for e in ranking if e["name"] != faq}
        faq_probability = next((float(e.get("confidence") or 0.0) for e in ranking if e["name"] == faq), 0.0)
        for entry in self._answer_ranking(message):
            probabilities[entry["intent_response_key"]] = faq_probability * float(entry.get("confidence") or 0.0)
        return probabilities

    def _answer_ranking(self, message: Message) -> List[Dict[Text, Any]]:
        selector = (message.get(RESPONSE_SELECTOR) or {}).get(self._config["retrieval_intent"]) or {}
        return [e for e in selector.get("ranking") or [] if e.get("intent_response_key")]

    def averaged(self, message: Message) -> List[Tuple[Text, float]]:
        """Every label with its averaged probability, best first; with no classifier before
        this one (the pipeline in config.yml), its own probabilities alone."""
        weight = self._config["weight"]
        diet = self.classifier_probabilities(message)
        meaning = self.embedding_probabilities(message)
        if not meaning:
            weight = 0.0
        elif not diet:
            weight = 1.0
        labels = set(diet) | set(meaning)
        scores = {label: (1 - weight) * diet.get(label, 0.0) + weight * meaning.get(label, 0.0) for label in labels}
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if (message.get(TEXT) or "").startswith("/"):
                continue
            intent = message.get(INTENT) or {}
            full = self.averaged(message)
            if intent.get("name") is None and full:
                # No classifier before this one: its own crisis reading, if that is its
                # best label, goes to the crisis detector.
                top, top_score = full[0]
                sure = top_score >= self._config["crisis_reading_threshold"]
                intent = {"name": top, "confidence": top_score} if top in CRISIS_INTENTS and sure else {}
            ranking = [(label, score) for label, score in full if label not in CRISIS_INTENTS]
            if not ranking:
                continue
            message.set(ORDINARY_READING_KEY, ranking[0][1])
            self._apply(message, ranking)
            if intent.get("name") in CRISIS_INTENTS:
                # The crisis reading stays first, for the crisis detector; if the detector
                # finds no crisis it demotes it, and this vote's decision comes next.
                decided = message.get(INTENT)
                rest = [e for e in message.get(INTENT_RANKING_KEY)
                        if e.get("name") not in CRISIS_INTENTS and e.get("name") != decided["name"]]
                message.set(INTENT_RANKING_KEY, [intent, decided, *rest], add_to_output=True)
                message.set(INTENT, intent, add_to_output=True)
        return messages

    def _apply(self, message: Message, ranking: List[Tuple[Text, float]]) -> None:
        faq = self._config["retrieval_intent"]
        prefix = f"{faq}/"
        best, best_score = ranking[0]
        runner_up = ranking[1][1] if len(ranking) > 1 else 0.0

        # Intent level: an FAQ topic counts for "faq"; the answer ranking within it.
        intents: Dict[Text, float] = {}
        for label, score in ranking:
            name = faq if label.startswith(prefix) else label
            intents[name] = intents.get(name, 0.0) + score
        intent_ranking = [{"name": n, "confidence": c} for n, c in sorted(intents.items(), key=lambda i: -i[1])]
        answers = [(label, score) for label, score in ranking if label.startswith(prefix)]
        if answers:
            self._set_answers(message, answers, intents.get(faq, 0.0))

        unsure = best_score < self._config["threshold"] or best_score - runner_up < self._config["ambiguity_threshold"]
        if unsure and self._interchangeable(ranking):
            unsure = best_score + runner_up < self._config["threshold"]
        if unsure:
            chosen = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, "confidence": best_score}
            intent_ranking = [chosen, *intent_ranking]
        else:
            chosen = {"name": faq if best.startswith(prefix) else best, "confidence": best_score}
        message.set(INTENT, chosen, add_to_output=True)
        message.set(INTENT_RANKING_KEY, intent_ranking, add_to_output=True)

    def _interchangeable(self, ranking: List[Tuple[Text, float]]) -> bool:
        """True when the two likeliest labels have replies that can stand in for each other."""
        group = set(self._config["interchangeable"])
        return len(ranking) > 1 and ranking[0][0] in group and ranking[1][0] in group

    def _set_answers(self, message: Message, answers: List[Tuple[Text, float]], faq_mass: float) -> None:
        """Re-ranks the FAQ answers by the averaged scores (confidence within "faq")."""
        faq = self._config["retrieval_intent"]
        selector = dict((message.get(RESPONSE_SELECTOR) or {}).get(faq) or {})
        previous = selector.get("response") or {}
        total = faq_mass or 1.0
        top, top_score = answers[0]
        selector["ranking"] = [
            {"intent_response_key": label, "confidence": score / total} for label, score in answers
        ]
        selector["response"] = {
            # The domain holds the answer text; the selector's own copy is kept when it agrees.
            "responses": previous.get("responses") if previous.get("intent_response_key") == top else [],
            "confidence": top_score / total,
            "intent_response_key": top,
            "utter_action": f"utter_{top}",
        }
        response_selector = dict(message.get(RESPONSE_SELECTOR) or {})
        response_selector[faq] = selector
        # Rasa reads the chosen answer ("full_retrieval_intent_name") only for these.
        retrieval_intents = list(response_selector.get("all_retrieval_intents") or [])
        response_selector["all_retrieval_intents"] = retrieval_intents + [faq] * (faq not in retrieval_intents)
        message.set(RESPONSE_SELECTOR, response_selector, add_to_output=True)
