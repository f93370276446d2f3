"""The safety texts the servers send themselves, read from domain.yml (their only home).

Most replies go through Rasa's NLG, which reads the trained model's domain. A few are sent
by the channels without it: the reply when a message could not be handled at all
(`utter_technical_problem`), the reply to a photo or voice note (`utter_not_text`), and the
website widget's always-visible crisis link (`utter_crisis_link`). They are read here from
domain.yml, so that no crisis number or safety sentence is written anywhere else.

The file is read on first use (not at import), and again when it changes. Every channel
asks for the texts while the server is being built, so a domain.yml that cannot be read, or
that lacks one of these responses, stops the server from starting rather than leaving it to
send nothing; a later broken edit keeps the last good texts.

Variations follow Rasa's own rule for conditional responses: the one whose condition is
`crisis_region == <region>` for that region, else the one without a condition.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Text, Tuple

import yaml

logger = logging.getLogger(__name__)

DOMAIN_FILE = Path(__file__).resolve().parent.parent / "domain.yml"

TECHNICAL_PROBLEM_RESPONSE = "utter_technical_problem"
NOT_TEXT_RESPONSE = "utter_not_text"
CRISIS_LINK_RESPONSE = "utter_crisis_link"
PROFESSIONAL_DEFAULT_RESPONSE = "utter_professional_default"
REGION_SLOT = "crisis_region"

# Where the crisis link may point: a phone number or a web page.
LINK_HREF = re.compile(r"^(?:tel:\+?[0-9]{2,15}|https://[^\s\"'<>\\]+)$")


class SafetyTextError(RuntimeError):
    """domain.yml cannot give the safety texts; the server must not start without them."""


@dataclass(frozen=True)
class CrisisLink:
    text: Text
    href: Text


@dataclass(frozen=True)
class Regional:
    """One response's variations: by crisis_region, and the default (key None)."""

    by_region: Mapping[Optional[Text], Any]

    def for_region(self, region: Optional[Text] = None) -> Any:
        if region is not None and region in self.by_region:
            return self.by_region[region]
        return self.by_region[None]


@dataclass(frozen=True)
class SafetyTexts:
    technical_problem: Regional
    not_text: Regional
    crisis_link: Regional
    professional_default: Text

    def technical_problem_text(self, region: Optional[Text] = None) -> Text:
        return self.technical_problem.for_region(region)

    def not_text_reply(self, region: Optional[Text] = None) -> Text:
        return self.not_text.for_region(region)

    def crisis_link_for(self, region: Optional[Text] = None) -> CrisisLink:
        return self.crisis_link.for_region(region)


def _region_of_variation(name: Text, variation: Mapping[Text, Any]) -> Optional[Text]:
    conditions = variation.get("condition") or []
    if not conditions:
        return None
    if (
        len(conditions) != 1
        or not isinstance(conditions[0], dict)
        or conditions[0].get("type") != "slot"
        or conditions[0].get("name") != REGION_SLOT
        or not isinstance(conditions[0].get("value"), str)
    ):
        raise SafetyTextError(f"{name}: a variation may only depend on the {REGION_SLOT} slot")
    return conditions[0]["value"]


def _variations(responses: Mapping[Text, Any], name: Text) -> Dict[Optional[Text], Mapping[Text, Any]]:
    variations = responses.get(name)
    if not isinstance(variations, list) or not variations:
        raise SafetyTextError(f"the response {name} is missing")
    by_region: Dict[Optional[Text], Mapping[Text, Any]] = {}
    for variation in variations:
        if not isinstance(variation, dict):
            raise SafetyTextError(f"{name}: a variation is not a mapping")
        region = _region_of_variation(name, variation)
        if region in by_region:
            raise SafetyTextError(f"{name}: two variations for {region or 'the default'}")
        text = variation.get("text")
        if not isinstance(text, str) or not text.strip() or "{" in text:
            raise SafetyTextError(f"{name}: every variation needs a plain text (no {{slots}})")
        by_region[region] = variation
    if None not in by_region:
        raise SafetyTextError(f"{name}: a variation without a condition (the default) is needed")
    return by_region


def _texts(responses: Mapping[Text, Any], name: Text) -> Regional:
    return Regional({region: v["text"].strip() for region, v in _variations(responses, name).items()})


def _crisis_links(responses: Mapping[Text, Any]) -> Regional:
    links = {}
    for region, variation in _variations(responses, CRISIS_LINK_RESPONSE).items():
        href = (variation.get("metadata") or {}).get("href") if isinstance(variation.get("metadata"), dict) else None
        if not isinstance(href, str) or not LINK_HREF.match(href):
            raise SafetyTextError(f"{CRISIS_LINK_RESPONSE}: metadata.href must be tel:<digits> or https://...")
        links[region] = CrisisLink(text=variation["text"].strip(), href=href)
    return Regional(links)


def texts_from_domain(domain: Mapping[Text, Any]) -> SafetyTexts:
    """The safety texts from a domain (as loaded from YAML, or as Rasa sends it to actions)."""
    responses = domain.get("responses") if isinstance(domain, Mapping) else None
    if not isinstance(responses, Mapping):
        raise SafetyTextError("the domain has no responses")
    return SafetyTexts(
        technical_problem=_texts(responses, TECHNICAL_PROBLEM_RESPONSE),
        not_text=_texts(responses, NOT_TEXT_RESPONSE),
        crisis_link=_crisis_links(responses),
        professional_default=_texts(responses, PROFESSIONAL_DEFAULT_RESPONSE).for_region(None),
    )


def load(path: Path = DOMAIN_FILE) -> SafetyTexts:
    try:
        with Path(path).open(encoding="utf-8") as file:
            domain = yaml.safe_load(file)
        return texts_from_domain(domain or {})
    except SafetyTextError as error:
        raise SafetyTextError(f"{path}: {error}; the server does not start without its safety texts") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise SafetyTextError(f"cannot read the safety texts from {path} ({error}); the server does not start without them") from None


_lock = threading.Lock()
_loaded: Optional[SafetyTexts] = None
_loaded_stamp: Optional[Tuple[int, int]] = None
_next_check = 0.0
CHECK_SECONDS = 2.0


def _stamp(path: Path) -> Tuple[int, int]:
    try:
        info = path.stat()
        return info.st_size, info.st_mtime_ns
    except OSError:
        return -1, -1


def safety_texts() -> SafetyTexts:
    """The texts from domain.yml, read on first use (raises SafetyTextError) and read again
    when the file changes (checked at most every CHECK_SECONDS), like the answers
    (bot/content.py); an edit that breaks them keeps the last good texts and logs a WARNING."""
    global _loaded, _loaded_stamp, _next_check
    now = time.monotonic()
    if _loaded is not None and now < _next_check:
        return _loaded
    with _lock:
        stamp = _stamp(DOMAIN_FILE)
        if _loaded is None:
            _loaded = load(DOMAIN_FILE)
        elif stamp != _loaded_stamp:
            try:
                _loaded = load(DOMAIN_FILE)
            except SafetyTextError as error:
                logger.warning("Safety texts not reloaded, the last good ones stay in use: %s", error)
        _loaded_stamp = stamp
        _next_check = now + CHECK_SECONDS
    return _loaded


def clear_cache() -> None:
    """Forget the loaded texts (tests)."""
    global _loaded, _loaded_stamp, _next_check
    with _lock:
        _loaded = None
        _loaded_stamp = None
        _next_check = 0.0
