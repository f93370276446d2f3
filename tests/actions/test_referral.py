import pytest
from rasa_sdk.events import SlotSet

from actions.referral import REMINDER_RESPONSES, ActionReferToProfessional


def responses(dispatcher):
    return [message["response"] for message in dispatcher.messages]


async def test_first_referral_is_the_full_one(dispatcher, tracker_builder, domain, monkeypatch):
    monkeypatch.delenv("CLINIC_NAME", raising=False)
    events = await ActionReferToProfessional().run(dispatcher, tracker_builder(), domain)
    assert responses(dispatcher) == ["utter_referral_first"]
    assert dispatcher.messages[0]["professional"] == "your doctor or a licensed mental health professional"
    assert events == [SlotSet("referral_count", 1.0)]


async def test_first_referral_adds_the_clinic_contact_when_configured(dispatcher, tracker_builder, domain, monkeypatch):
    monkeypatch.setenv("CLINIC_NAME", "Calm Clinic")
    monkeypatch.setenv("CLINIC_PHONE", "555-0100")
    monkeypatch.delenv("CLINIC_BOOKING_URL", raising=False)
    await ActionReferToProfessional().run(dispatcher, tracker_builder(), domain)
    assert responses(dispatcher) == ["utter_referral_first", "utter_clinic_contact_phone"]
    assert dispatcher.messages[1]["clinic_phone"] == "555-0100"


async def test_later_referrals_are_short_and_do_not_repeat_back_to_back(dispatcher, tracker_builder, domain):
    sent = []
    for count in range(1, 7):
        turn_dispatcher = type(dispatcher)()
        events = await ActionReferToProfessional().run(turn_dispatcher, tracker_builder(slots={"referral_count": float(count)}), domain)
        sent += responses(turn_dispatcher)
        assert events == [SlotSet("referral_count", float(count + 1))]
    assert set(sent) == set(REMINDER_RESPONSES)
    assert all(first != second for first, second in zip(sent, sent[1:], strict=False))
    assert "utter_referral_first" not in sent


async def test_after_a_crisis_every_referral_keeps_crisis_help_in_view(dispatcher, tracker_builder, domain):
    tracker = tracker_builder(slots={"crisis_flagged": True, "referral_count": 3.0})
    await ActionReferToProfessional().run(dispatcher, tracker, domain)
    assert responses(dispatcher)[-1] == "utter_crisis_reminder"


async def test_after_an_overdose_or_injury_every_referral_also_says_to_still_get_checked(dispatcher, tracker_builder, domain):
    tracker = tracker_builder(slots={"crisis_flagged": True, "crisis_kind": "medical", "referral_count": 1.0})
    await ActionReferToProfessional().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_referral_reminder_1", "utter_emergency_reminder", "utter_crisis_reminder"]


@pytest.mark.parametrize("slots", [
    {"crisis_flagged": True, "crisis_kind": "self"},
    {"crisis_flagged": True, "crisis_kind": "someone_else"},
    {"crisis_flagged": True, "crisis_kind": "unsafe"},
    # A new session: crisis_flagged starts again at false, whatever the kind was.
    {"crisis_flagged": False, "crisis_kind": "medical"},
])
async def test_no_emergency_line_without_an_overdose_or_injury_in_the_session(dispatcher, tracker_builder, domain, slots):
    await ActionReferToProfessional().run(dispatcher, tracker_builder(slots=slots), domain)
    assert "utter_emergency_reminder" not in responses(dispatcher)


async def test_a_calm_mention_of_past_crisis_gets_the_crisis_line_under_the_referral(dispatcher, tracker_builder, domain):
    message = {"text": "I attempted suicide years ago and have been well since, can I have TMS?",
               "intent": {"name": "advice_suitability"},
               "entities": [{"entity": "crisis_kind", "value": "caution"}]}
    await ActionReferToProfessional().run(dispatcher, tracker_builder(latest_message=message), domain)
    assert responses(dispatcher) == ["utter_referral_first", "utter_crisis_reminder"]


async def test_no_crisis_line_without_crisis_in_view(dispatcher, tracker_builder, domain):
    message = {"text": "how long is a session", "intent": {"name": "faq"}, "entities": []}
    await ActionReferToProfessional().run(dispatcher, tracker_builder(latest_message=message), domain)
    assert responses(dispatcher) == ["utter_referral_first"]


@pytest.mark.parametrize("response", ["utter_referral_first", *REMINDER_RESPONSES, "utter_crisis_reminder",
                                      "utter_emergency_reminder"])
def test_every_referral_response_exists_in_the_domain(domain, response):
    assert domain["responses"][response][0]["text"]
