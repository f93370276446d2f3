"""The replies the channels send themselves, without Rasa: one home for every connector.

The texts are not written here: they come from domain.yml through bot/safety_text.py, so
that no crisis number or safety sentence lives anywhere else. This module only says which
text a channel sends when:

- `technical_problem_text`: a message could not be handled at all (utter_technical_problem);
- `not_text_reply`: a photo, sticker or voice note arrived, which the assistant cannot read
  (utter_not_text);
- `require_safety_texts`: called while a channel builds its routes, so a domain.yml without
  these texts stops the server from starting instead of leaving it to send nothing.

`region` is the crisis region of the person's locale (bot/nlu/locale.py), so the crisis line
in these replies is the one the crisis reply would name.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from bot.safety_text import safety_texts


def require_safety_texts() -> None:
    """Reads domain.yml now: without its safety texts the server must not start."""
    safety_texts()


def technical_problem_text(region: Optional[Text] = None) -> Text:
    return safety_texts().technical_problem_text(region)


def technical_problem_messages(recipient_id: Text, region: Optional[Text] = None) -> List[Dict[Text, Any]]:
    """The technical-problem reply as Rasa's REST channel answers messages."""
    return [{"recipient_id": recipient_id, "text": technical_problem_text(region)}]


def not_text_reply(region: Optional[Text] = None) -> Text:
    return safety_texts().not_text_reply(region)
