"""Every factual answer is grounded in the cited source document, in one citation format.

A number or named medical fact that is not in the quoted source fails the test, so an
answer cannot quietly gain a statistic, a price or an approval status. Every FAQ and
advice answer must also read at Flesch-Kincaid grade 8 or lower.
"""

import re
from pathlib import Path
from typing import List

import pytest

from tooling.knowledge import (
    SOURCES_DIR,
    CitationFormatError,
    citations,
    documents,
    normalise,
    sections,
)

SEEDS_DIR = Path(__file__).resolve().parents[3] / "shared" / "seeds"
MAX_READING_GRADE = 8

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
    """All responses, those that cite sources, and any citation not in the one format."""
    from tests.conftest import PROJECT_ROOT, load_yaml

    responses = dict(load_yaml(PROJECT_ROOT / "domain.yml")["responses"])
    for path in sorted((PROJECT_ROOT / "data" / "responses").glob("*.yml")):
        responses.update(load_yaml(path)["responses"])
    cited, format_errors = [], []
    for name, variations in responses.items():
        for variation in variations:
            try:
                found = citations(variation)
            except CitationFormatError as error:
                format_errors.append(f"{name}: {error}")
                continue
            if found:
                cited.append((name, variation.get("text", ""), found))
    return responses, cited, format_errors


RESPONSES, CITED, FORMAT_ERRORS = all_cited()
ANSWERS = [
    (name, variation.get("text", ""))
    for name, variations in RESPONSES.items()
    if name.startswith(("utter_faq/", "utter_advice_"))
    for variation in variations
]


def contains_term(text: str, term: str) -> bool:
    if term.isupper() or not term.isalpha():
        return re.search(rf"(?<![A-Za-z]){re.escape(term)}", text) is not None
    return re.search(rf"\b{re.escape(term.lower())}", text.lower()) is not None


def test_every_faq_answer_and_advice_answer_cites_a_source():
    cited_names = {name for name, _, _ in CITED}
    must_cite = {n for n in RESPONSES if n.startswith(("utter_faq/", "utter_advice_"))}
    assert must_cite, "no FAQ responses found"
    assert must_cite <= cited_names, sorted(must_cite - cited_names)


def test_every_citation_uses_the_one_format():
    assert FORMAT_ERRORS == []


@pytest.mark.parametrize(
    "metadata",
    [
        {"source": {"document": "clinic_tms_explainer", "section": "8. Effectiveness", "quote": "x"}},
        {"sources": {"document": "clinic_tms_explainer", "section": "8. Effectiveness", "quote": "x"}},
        {"sources": []},
        {"sources": [{"document": "clinic_tms_explainer", "section": "8. Effectiveness", "quote": ["x", "y"]}]},
        {"sources": [{"document": "clinic_tms_explainer", "quote": "x"}]},
        {"sources": [{"document": "clinic_tms_explainer", "section": "8. Effectiveness", "quote": "x", "page": 2}]},
    ],
    ids=["old-source-key", "sources-not-a-list", "empty", "list-of-quotes", "no-section", "extra-key"],
)
def test_other_citation_formats_are_rejected(metadata):
    with pytest.raises(CitationFormatError):
        citations({"text": "An answer.", "metadata": metadata})


def test_the_one_format_is_read():
    entry = {"document": "clinic_tms_explainer", "section": "8. Effectiveness", "quote": "Response rates vary"}
    (citation,) = citations({"text": "Results vary.", "metadata": {"title": "t", "sources": [entry]}})
    assert (citation.document, citation.section, citation.quote) == tuple(entry.values())
    assert citations({"text": "Hello."}) == []


def test_both_documents_are_split_into_their_sections():
    clinic, article = sections("clinic_tms_explainer"), sections("neuroplasticity_article")
    assert list(clinic)[:2] == ["Introduction", "1. Principle of TMS"]
    assert "9. Patient Selection" in clinic and "Closing note" in clinic
    assert {"Introduction", "How It Works", "Treatment Protocol", "What to Watch Out For", "Closing note"} <= set(article)
    assert "Always consult your healthcare provider" in article["Closing note"]
    assert "Always consult" not in article["Health Risks"]


@pytest.mark.parametrize(("name", "text", "citations"), CITED, ids=[c[0] for c in CITED])
def test_quotes_are_verbatim_from_the_cited_section(name, text, citations):
    for citation in citations:
        assert citation.document in documents(), f"{name}: unknown document {citation.document!r}"
        document_sections = sections(citation.document)
        assert citation.section in document_sections, (
            f"{name}: {citation.document} has no section {citation.section!r} (it has {list(document_sections)})"
        )
        assert normalise(citation.quote) in document_sections[citation.section], (
            f"{name}: quote not found in {citation.document}, section {citation.section!r}: {citation.quote!r}"
        )


def ungrounded(text: str, quotes: List[str]) -> List[str]:
    """The numbers, number words and named facts in `text` that none of `quotes` contains."""
    quoted = normalise(" ".join(quotes))
    missing = [number for number in re.findall(r"\d+", text) if not re.search(rf"(?<!\d){number}(?!\d)", quoted)]
    missing += [word for word in NUMBER_WORDS if contains_term(text, word) and not contains_term(quoted, word)]
    missing += [term for term in NAMED_FACTS if contains_term(text, term) and not contains_term(quoted, term)]
    return missing


@pytest.mark.parametrize(("name", "text", "citations"), CITED, ids=[c[0] for c in CITED])
def test_numbers_and_named_facts_in_answers_appear_in_their_quotes(name, text, citations):
    assert ungrounded(text, [c.quote for c in citations]) == [], f"{name}: not in the cited quote"


def syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower())
    count = len(groups) - (1 if word.lower().endswith("e") and len(groups) > 1 else 0)
    return max(1, count)


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade level (a rough estimate, as every formula is)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    words = re.findall(r"[A-Za-z']+", text)
    return 0.39 * len(words) / len(sentences) + 11.8 * sum(map(syllables, words)) / len(words) - 15.59


@pytest.mark.parametrize(("name", "text"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_answers_are_short_and_plain(name, text):
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    assert 1 <= len(sentences) <= 4, f"{name}: {len(sentences)} sentences"
    grade = reading_grade(text)
    assert grade <= MAX_READING_GRADE, f"{name}: reading grade {grade:.1f} (at most {MAX_READING_GRADE})"


def test_the_reading_check_catches_hard_text():
    hard = (
        "Transcranial magnetic stimulation is believed to modulate neuronal activity and affect "
        "neurotransmitter levels, particularly serotonin, norepinephrine, and dopamine."
    )
    assert reading_grade(hard) > MAX_READING_GRADE
    assert reading_grade("Each session lasts about 20 to 40 minutes. You stay awake.") <= MAX_READING_GRADE


def test_answers_that_mention_seizures_agree_on_the_risk():
    """side_effects, seizure_risk, contraindications and the advice reply say the same thing."""
    seizure_sentence = "Seizure risk is very low but present"
    mentioning = [(name, text, found) for name, text, found in CITED if contains_term(text, "seizure")]
    assert {"utter_faq/side_effects", "utter_faq/seizure_risk"} <= {name for name, _, _ in mentioning}
    for name, text, found in mentioning:
        assert "very low" in text.lower(), f"{name}: the seizure risk must be described as very low"
        assert "extremely rare" not in text.lower(), name
        assert any(seizure_sentence in c.quote for c in found), f"{name}: cite {seizure_sentence!r}"


SESSION_QUOTE = "Each session lasts about 20 to 40 minutes."


@pytest.mark.parametrize(
    ("answer", "invented"),
    [
        ("Each session lasts about 20 to 60 minutes.", ["60"]),
        ("Each session lasts about 20 to 40 minutes, three times a day.", ["three"]),
        ("The FDA says each session lasts 20 to 40 minutes.", ["FDA"]),
        ("Each session lasts 20 to 40 minutes and costs $300.", ["300", "cost"]),
        ("A session lasts 2 to 4 minutes.", ["2", "4"]),  # digits inside 20 and 40 are not found
        ("About 20 to 40 minutes; insurance covers 80%.", ["80", "insurance", "%"]),
    ],
    ids=["number", "number-word", "named-fact", "price", "part-of-a-number", "several"],
)
def test_the_grounding_check_catches_an_invented_figure(answer, invented):
    """The check above fails an answer that adds a number or a term its quote lacks."""
    assert sorted(ungrounded(answer, [SESSION_QUOTE])) == sorted(invented)


def test_the_grounding_check_passes_what_the_quote_says():
    assert ungrounded("A session usually lasts 20 to 40 minutes.", [SESSION_QUOTE]) == []
    # Every quote of an answer counts, and a digit does not stand for a number word.
    two_quotes = [SESSION_QUOTE, "Treatment usually lasts 4-6 weeks."]
    assert ungrounded("Sessions last 20 to 40 minutes, for 4 to 6 weeks.", two_quotes) == []
    assert ungrounded("It takes four to six weeks.", two_quotes) == ["four", "six"]


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="shared/seeds is not beside this clone")
@pytest.mark.parametrize(("seed", "copy"), [
    ("000_87b7507e45e456ef.txt", "clinic_tms_explainer.txt"),
    ("001_43d8b39e23bec8fb.txt", "neuroplasticity_article.txt"),
])
def test_source_copies_match_the_seed_documents(seed, copy):
    assert (SOURCES_DIR / copy).read_bytes() == (SEEDS_DIR / seed).read_bytes()
