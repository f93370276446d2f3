from rasa_sdk.events import SlotSet

from actions.handoff import ActionHandoffToHuman


async def test_handoff_explains_how_to_reach_a_person_and_flags_the_conversation(dispatcher, tracker_builder, domain, monkeypatch):
    monkeypatch.setenv("CLINIC_NAME", "Calm Clinic")
    monkeypatch.setenv("CLINIC_PHONE", "555-0100")
    monkeypatch.setenv("CLINIC_BOOKING_URL", "https://example.org/book")
    events = await ActionHandoffToHuman().run(dispatcher, tracker_builder(), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff", "utter_clinic_contact_phone_and_booking"]
    assert dispatcher.messages[0]["professional"] == (
        "your doctor or a licensed mental health professional, or the team at Calm Clinic"
    )
    # It is the full referral (professional + contacts): the next one is a short reminder.
    assert events == [SlotSet("handoff_requested", True), SlotSet("referral_count", 1.0)]


async def test_handoff_without_clinic_details_still_names_a_professional(dispatcher, tracker_builder, domain, monkeypatch):
    for name in ("CLINIC_NAME", "CLINIC_PHONE", "CLINIC_BOOKING_URL"):
        monkeypatch.delenv(name, raising=False)
    events = await ActionHandoffToHuman().run(
        dispatcher, tracker_builder(slots={"crisis_flagged": True, "referral_count": 2.0}), domain
    )
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff", "utter_crisis_reminder"]
    assert dispatcher.messages[0]["professional"] == "your doctor or a licensed mental health professional"
    assert events == [SlotSet("handoff_requested", True), SlotSet("referral_count", 3.0)]


def test_the_handoff_text_itself_refers_to_a_professional(domain):
    assert "please contact {professional}" in domain["responses"]["utter_handoff"][0]["text"]
