"""Every factual answer is grounded in the cited source document.

A number or named medical fact that is not in the quoted source fails the test, so an
answer cannot quietly gain a statistic, a price or an approval status.
"""

import re
from pathlib import Path

import pytest

from bot.knowledge import SOURCES_DIR, cited_responses, document_text, normalise

SEEDS_DIR = Path(__file__).resolve().parents[3] / "shared" / "seeds"

# Facts an answer about TMS might state. Whatever an answer says from this list must be
# in its quote; terms the documents never use (FDA, insurance...) can thus never appear.
NAMED_FACTS = [
    "serotonin", "norepinephrine", "dopamine", "neurotransmitter", "prefrontal", "cortex",
    "neuroplastic", "neuroimaging", "ECT", "electroconvulsive", "anesthesia", "sedation",
    "epilepsy", "seizure", "neurological", "cochlear", "aneurysm", "implant", "metal",
    "MRI", "pacemaker", "FDA", "approved", "insurance", "Medicare", "cost", "price",
    "percent", "%", "ketamine", "lithium", "psychotherapy", "antidepressant", "MDD",
    "major depressive", "treatment-resistant", "coil", "skull", "scalp", "headache",
    "blood flow", "dizz", "memory loss", "hearing", "pregnan", "child", "teen",
    "daily", "week", "minute", "hour", "month", "year", "maintenance",
]
NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty", "thirty", "forty", "hundred"]


def all_cited():
    from tests.conftest import PROJECT_ROOT, load_yaml

    responses = dict(load_yaml(PROJECT_ROOT / "domain.yml")["responses"])
    for path in sorted((PROJECT_ROOT / "data" / "responses").glob("*.yml")):
        responses.update(load_yaml(path)["responses"])
    return responses, list(cited_responses(responses))


RESPONSES, CITED = all_cited()


def contains_term(text: str, term: str) -> bool:
    if term.isupper() or not term.isalpha():
        return re.search(rf"(?<![A-Za-z]){re.escape(term)}", text) is not None
    return re.search(rf"\b{re.escape(term.lower())}", text.lower()) is not None


def test_every_faq_answer_and_advice_answer_cites_a_source():
    cited_names = {name for name, _, _ in CITED}
    must_cite = {n for n in RESPONSES if n.startswith(("utter_faq/", "utter_advice_"))}
    assert must_cite, "no FAQ responses found"
    assert must_cite <= cited_names, sorted(must_cite - cited_names)


@pytest.mark.parametrize(("name", "text", "citations"), CITED, ids=[c[0] for c in CITED])
def test_quotes_are_verbatim_from_the_cited_document(name, text, citations):
    for citation in citations:
        document = normalise(document_text(citation.document))
        assert citation.section, f"{name}: citation without a section"
        for quote in citation.quotes:
            assert normalise(quote) in document, f"{name}: quote not found in {citation.document}: {quote!r}"


@pytest.mark.parametrize(("name", "text", "citations"), CITED, ids=[c[0] for c in CITED])
def test_numbers_and_named_facts_in_answers_appear_in_their_quotes(name, text, citations):
    quoted = normalise(" ".join(q for c in citations for q in c.quotes))
    for number in re.findall(r"\d+", text):
        assert re.search(rf"(?<!\d){number}(?!\d)", quoted), f"{name}: {number} is not in the cited quote"
    for word in NUMBER_WORDS:
        if contains_term(text, word):
            assert contains_term(quoted, word), f"{name}: '{word}' is not in the cited quote"
    for term in NAMED_FACTS:
        if contains_term(text, term):
            assert contains_term(quoted, term), f"{name}: '{term}' is not in the cited quote"


def syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower())
    count = len(groups) - (1 if word.lower().endswith("e") and len(groups) > 1 else 0)
    return max(1, count)


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade level (a rough estimate, as every formula is)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    words = re.findall(r"[A-Za-z']+", text)
    return 0.39 * len(words) / len(sentences) + 11.8 * sum(map(syllables, words)) / len(words) - 15.59


@pytest.mark.parametrize(("name", "text", "citations"), CITED, ids=[c[0] for c in CITED])
def test_answers_are_short_and_plain(name, text, citations):
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    assert 1 <= len(sentences) <= 4, f"{name}: {len(sentences)} sentences"
    # Medical names (norepinephrine, electroconvulsive) cannot be simplified away, so each
    # answer gets some slack; across all answers the aim is about 8th grade.
    assert reading_grade(text) <= 13, f"{name}: reading grade {reading_grade(text):.1f}"


def test_answers_read_at_about_8th_to_9th_grade_on_average():
    grades = [reading_grade(text) for _, text, _ in CITED]
    assert sum(grades) / len(grades) <= 9.5, f"average grade {sum(grades) / len(grades):.1f}"


def test_the_grounding_check_catches_an_invented_figure():
    """The check above must fail for an answer that adds a number or a term the quote lacks."""
    quote = normalise("Each session lasts about 20 to 40 minutes.")
    assert not re.search(r"(?<!\d)60(?!\d)", quote)
    assert not contains_term(quote, "FDA")
    assert contains_term(quote, "minute")


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="shared/seeds is not beside this clone")
@pytest.mark.parametrize(("seed", "copy"), [
    ("000_87b7507e45e456ef.txt", "clinic_tms_explainer.txt"),
    ("001_43d8b39e23bec8fb.txt", "neuroplasticity_article.txt"),
])
def test_source_copies_match_the_seed_documents(seed, copy):
    assert (SOURCES_DIR / copy).read_bytes() == (SEEDS_DIR / seed).read_bytes()
