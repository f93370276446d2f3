import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.command_guard import TypedCommandGuard

GUARD = TypedCommandGuard({"allowed_commands": ["/greet"]})


@pytest.mark.parametrize(
    ("typed", "understood_as"),
    [
        ("/greet", "/greet"),
        ("/restart", "restart"),
        ('/crisis_retracted{"crisis_flagged": false}', 'crisis_retracted{"crisis_flagged": false}'),
        ("//faq", "faq"),
        ("/", "/"),
        ("how long is a session?", "how long is a session?"),
        ("what does 1/2 mean", "what does 1/2 mean"),
    ],
)
def test_only_the_assistants_own_commands_stay_commands(typed, understood_as):
    [message] = GUARD.process([Message(data={"text": typed})])
    assert message.get("text") == understood_as
