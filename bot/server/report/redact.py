"""Phone numbers, e-mail addresses and names out of a message before the report shows it.

`redact(text)` replaces them with [phone], [email] and [name]. It runs on every message
the report keeps (only unanswered questions), before anything is grouped, shown or
written. Rules, not a model, so what is caught can be read and tested
(tests/server/report/test_redact.py):

- e-mail addresses;
- phone numbers, international (+44 20 7946 0958, +33 1 23 45 67 89, 0044...) and US
  ((555) 123-4567, 555.123.4567, 1-800-273-8255, 5551234567): 7 to 15 digits with spaces,
  dots, dashes or brackets between groups (10 or more when written with no separator),
  but not dates (2024-01-05), ranges (10-15) or lists of small numbers;
- a name after "my name is", "my name's", "call me", "Dr", "Mr", "Mrs", "Ms", or a
  capitalised word after "I'm", "I am", "this is", "it's" (a greeting "Sarah here" and a
  sign-off "thanks, Sarah" too);
- two or three capitalised words in a row ("Sarah Jones") unless all of them are ordinary
  words of this assistant's own data (so "Side Effects" and "How Long" stay).

Never names: words in capitals (TMS, ECT, OCD), the medicines, devices and places in
KEEP_WORDS, and small function words. What it misses: names written in lower case with no
"my name is" before them, and names that are also ordinary words ("Will", "Hope") in a pair
of such words. Over-redacting is the safe side: a capitalised adjective after "I'm" is
taken for a name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Iterator, List, Tuple

EMAIL = "[email]"
PHONE = "[phone]"
NAME = "[name]"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A run of digits and the separators phone numbers use; checked further by _is_phone.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().\-]{5,24}\d(?!\w)")
_SEPARATOR_RUN = re.compile(r"[^\d]+")
# Dates written with dashes or dots (2024-01-05, 05.01.2024, 5-1-24) are not phone numbers.
_DATE = re.compile(r"\d{4}[.\-]\d{1,2}[.\-]\d{1,2}|\d{1,2}[.\-]\d{1,2}[.\-](?:\d{4}|\d{2})")
MIN_PHONE_DIGITS = 7
MIN_UNSEPARATED_PHONE_DIGITS = 10
MAX_PHONE_DIGITS = 15

# A word: letters (any alphabet), with inner apostrophes or hyphens (O'Brien, Mary-Jane).
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
# Before a name, whatever its case: the person says it is one.
_STRONG_TRIGGER = re.compile(r"\b(?:my\s+name\s+is|my\s+name['’]s|my\s+names|name['’]s|i\s+go\s+by)\s+", re.I)
# Before a capitalised name only ("call me back", "Dr." alone stay).
_TITLE_TRIGGER = re.compile(r"\b(?:call\s+me|dr|mr|mrs|ms|mx|miss|prof)\.?\s+", re.I)
# "I'm Sarah": any capitalised word after these is taken for a name.
_SELF_TRIGGER = re.compile(r"\b(?:i['’]m|i\s+am|im)\s+", re.I)
# "This is Sarah", "my wife Anna": a capitalised word that is not an ordinary word.
_WEAK_TRIGGER = re.compile(
    r"\b(?:this\s+is|it['’]s|its|it\s+is|doctor|nurse|professor|psychiatrist|therapist"
    r"|my\s+(?:wife|husband|partner|son|daughter|mom|mum|mother|dad|father|sister|brother|friend"
    r"|boyfriend|girlfriend|grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|child|kid))\s+",
    re.I,
)
_GREETING_NAME = re.compile(r"^\s*(?:(?:hi|hello|hey)\b[\s,!.]*)?([^\W\d_][^\W\d_'’\-]*)\s+here\b", re.I)
_SIGN_OFF_NAME = re.compile(
    r"(?:\b(?:thanks|thank\s+you|cheers|regards|best|sincerely)[\s,!.\-]+|\s[-–—~]\s*)"
    r"([^\W\d_][^\W\d_'’\-]*)\s*[.!]*\s*$",
    re.I,
)
MAX_NAME_WORDS = 3

# Never a name, at the start of a sentence or anywhere: the treatment, devices, medicines
# people ask about, and calendar words. Lower case; compared in lower case.
KEEP_WORDS: FrozenSet[str] = frozenset(
    {
        "tms", "rtms", "dtms", "itbs", "ect", "mst", "tdcs", "neurostar", "brainsway",
        "magventure", "magstim", "neuronetics", "saint", "stanford", "fda", "medicare", "medicaid",
        "aetna", "cigna", "humana", "kaiser", "tricare", "prozac", "fluoxetine", "zoloft",
        "sertraline", "lexapro", "escitalopram", "celexa", "citalopram", "paxil", "paroxetine",
        "effexor", "venlafaxine", "cymbalta", "duloxetine", "pristiq", "desvenlafaxine",
        "wellbutrin", "bupropion", "remeron", "mirtazapine", "trintellix", "vortioxetine",
        "viibryd", "vilazodone", "spravato", "esketamine", "ketamine", "lithium", "lamictal",
        "lamotrigine", "abilify", "aripiprazole", "seroquel", "quetiapine", "rexulti",
        "brexpiprazole", "vraylar", "cariprazine", "zyprexa", "olanzapine", "risperdal",
        "risperidone", "latuda", "lurasidone", "xanax", "alprazolam", "ativan", "lorazepam",
        "klonopin", "clonazepam", "valium", "diazepam", "ambien", "zolpidem", "trazodone",
        "desyrel", "amitriptyline", "elavil", "nortriptyline", "pamelor", "imipramine", "tofranil",
        "clomipramine", "anafranil", "nardil", "phenelzine", "parnate", "tranylcypromine", "emsam",
        "selegiline", "auvelity", "zurzuvae", "zuranolone", "adderall", "ritalin", "vyvanse",
        "concerta", "tegretol", "carbamazepine", "depakote", "valproate", "topamax", "topiramate",
        "neurontin", "gabapentin", "lyrica", "pregabalin", "buspar", "buspirone", "tylenol",
        "advil", "ibuprofen", "aspirin", "melatonin", "monday", "tuesday", "wednesday", "thursday",
        "friday", "saturday", "sunday", "january", "february", "march", "april", "may", "june",
        "july", "august", "september", "october", "november", "december", "christmas", "easter",
        "covid",
    }
)
# Titles before a name: part of no name themselves.
TITLES: FrozenSet[str] = frozenset({"dr", "mr", "mrs", "ms", "mx", "miss", "prof", "st", "sr", "jr"})
# Small words that never start a name (and end one): "I'm not", "this is what".
FUNCTION_WORDS: FrozenSet[str] = frozenset(
    {
        "a", "an", "the", "and", "or", "but", "if", "so", "of", "to", "in", "on", "at", "by",
        "for", "with", "from", "as", "is", "are", "was", "were", "be", "been", "am", "i", "me",
        "my", "we", "you", "your", "he", "she", "they", "it", "its", "this", "that", "these",
        "those", "there", "here", "what", "which", "who", "whom", "whose", "when", "where", "why",
        "how", "do", "does", "did", "doing", "done", "not", "no", "yes", "ok", "okay", "hi",
        "hello", "hey", "thanks", "thank", "please", "just", "also", "very", "really", "too",
        "still", "about", "after", "before", "again", "any", "all", "some", "can", "could",
        "would", "should", "will", "shall", "may", "might", "must", "have", "has", "had", "having",
        "get", "got", "going", "gonna", "wanna",
    }
)


@lru_cache(maxsize=1)
def ordinary_words() -> FrozenSet[str]:
    """The words of this assistant's own domain and training data (lower case), plus
    scikit-learn's English stop words: words that, together, are not a person's name.

    The crisis examples (the `crisis` intent in data/nlu/crisis.yml) are left out: they are
    written like real farewells and worries about someone, and name people ("please tell
    sam i always loved him"); as the data grew, two of them named the same person, so
    counting repeated words made that name ordinary. Leaving them out costs at most an
    over-redacted slang word in a report, never a name shown.

    Only words written in lower case somewhere count: a word the data only ever capitalises
    is a proper noun (a receptionist "named Sarah", "Dr Okafor", a city), and ordinary
    questions name people too."""
    import yaml
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from bot.server.training import PROJECT_ROOT

    words = set(ENGLISH_STOP_WORDS) | FUNCTION_WORDS | KEEP_WORDS
    sources: List[Path] = [PROJECT_ROOT / "domain.yml", *sorted((PROJECT_ROOT / "data").rglob("*.yml"))]
    for path in sources:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue  # an installed copy without the data: fewer known words, more redacted
        if path.name == "crisis.yml":
            blocks = (yaml.safe_load(text) or {}).get("nlu") or []
            text = "\n".join(str(block.get("examples", "")) for block in blocks
                             if isinstance(block, dict) and block.get("intent") != "crisis")
        words.update(word for word in _WORD.findall(text) if word.islower())
    return frozenset(words)


def redact(text: str) -> str:
    """`text` with e-mail addresses, phone numbers and names replaced by placeholders."""
    if not text:
        return text
    text = _EMAIL.sub(EMAIL, text)
    text = _PHONE_CANDIDATE.sub(lambda match: PHONE if _is_phone(match.group(0)) else match.group(0), text)
    return _redact_names(text)


def _is_phone(candidate: str) -> bool:
    digits = sum(character.isdigit() for character in candidate)
    if not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        return False
    if _DATE.fullmatch(candidate):
        return False
    separators = _SEPARATOR_RUN.findall(candidate.lstrip("+"))
    if any(len(run) > 3 for run in separators):  # "1 -  2": words would be between them
        return False
    if not separators:
        return digits >= MIN_UNSEPARATED_PHONE_DIGITS or candidate.startswith("+")
    groups = re.findall(r"\d+", candidate)
    international = candidate.startswith(("+", "00"))
    # "10 20 30 40" or "1 2 3 4 5 6 7" are counts, not a number: phone numbers have a
    # group of three or more digits (international ones may be written in pairs).
    return international or max(len(group) for group in groups) >= 3


def _words(text: str) -> List[Tuple[int, int, str]]:
    return [(match.start(), match.end(), match.group(0)) for match in _WORD.finditer(text)]


def _capitalised(word: str) -> bool:
    """Sarah, O'Brien, Mary-Jane: a capital first, not all capitals (TMS, ECT)."""
    return word[:1].isupper() and not word.isupper()


def _never_name(word: str) -> bool:
    """Capitals (TMS, "TMS-curious"), a kept word ("Prozac-free") or a function word."""
    parts = re.split(r"['’\-]", word)
    if word.lower() in FUNCTION_WORDS or parts[0].lower() in FUNCTION_WORDS or parts[0].lower() in TITLES:
        return True
    return any(part.lower() in KEEP_WORDS or (len(part) > 1 and part.isupper()) for part in parts)


def _unknown_capitalised(word: str) -> bool:
    return _capitalised(word) and not _never_name(word) and word.lower() not in ordinary_words()


def _following(words: List[Tuple[int, int, str]], text: str, start: int) -> Iterator[Tuple[int, int, str]]:
    """The words from `start` on that follow each other with only spaces between them."""
    position = start
    for word in words:
        if word[0] < start:
            continue
        if text[position : word[0]].strip():
            return
        yield word
        position = word[1]


def _name_after(
    words: List[Tuple[int, int, str]], text: str, start: int, needs_capital: bool, unknown_only: bool
) -> List[Tuple[int, int]]:
    """Spans of the name starting at `start`: up to MAX_NAME_WORDS words, stopping at the
    first word that cannot be part of a name."""
    spans: List[Tuple[int, int]] = []
    known = ordinary_words() if unknown_only else frozenset()
    for index, (begin, end, word) in enumerate(_following(words, text, start)):
        if index >= MAX_NAME_WORDS or _never_name(word):
            break
        # A surname after a lower-case first name is capitalised ("sarah Jones").
        if (needs_capital or index > 0) and not _capitalised(word):
            break
        if unknown_only and word.lower() in known:
            break
        spans.append((begin, end))
    return spans


def _capitalised_runs(words: List[Tuple[int, int, str]], text: str) -> Iterator[List[Tuple[int, int, str]]]:
    """Runs of capitalised words separated by single spaces (2 to MAX_NAME_WORDS long)."""
    run: List[Tuple[int, int, str]] = []
    for word in words:
        candidate = _capitalised(word[2]) and not _never_name(word[2])
        if candidate and run and text[run[-1][1] : word[0]] == " ":
            run.append(word)
            continue
        if 2 <= len(run) <= MAX_NAME_WORDS:
            yield run
        run = [word] if candidate else []
    if 2 <= len(run) <= MAX_NAME_WORDS:
        yield run


def _redact_names(text: str) -> str:
    words = _words(text)
    if not words:
        return text
    spans: List[Tuple[int, int]] = []
    for match in _STRONG_TRIGGER.finditer(text):
        spans += _name_after(words, text, match.end(), needs_capital=False, unknown_only=False)
    for match in _TITLE_TRIGGER.finditer(text):
        spans += _name_after(words, text, match.end(), needs_capital=True, unknown_only=False)
    for match in _SELF_TRIGGER.finditer(text):
        spans += _name_after(words, text, match.end(), needs_capital=True, unknown_only=False)
    for match in _WEAK_TRIGGER.finditer(text):
        spans += _name_after(words, text, match.end(), needs_capital=True, unknown_only=True)
    for pattern in (_GREETING_NAME, _SIGN_OFF_NAME):
        found = pattern.search(text)
        if found and _unknown_capitalised(found.group(1)):
            spans.append(found.span(1))
    known = ordinary_words()
    for run in _capitalised_runs(words, text):
        if not all(word.lower() in known for _, _, word in run):
            spans += [(begin, end) for begin, end, _ in run]
    return _replace(text, spans)


def _replace(text: str, spans: List[Tuple[int, int]]) -> str:
    """Each run of redacted words (with only spaces between them) becomes one [name]."""
    if not spans:
        return text
    merged: List[List[int]] = []
    for begin, end in sorted(set(spans)):
        if merged and (begin <= merged[-1][1] or not text[merged[-1][1] : begin].strip()):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    pieces: List[str] = []
    position = 0
    for begin, end in merged:
        pieces.append(text[position:begin])
        pieces.append(NAME)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
