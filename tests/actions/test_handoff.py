from rasa_sdk.events import SlotSet

from actions.handoff import ActionHandoffToHuman


async def test_handoff_explains_how_to_reach_a_person_and_flags_the_conversation(dispatcher, tracker_builder, domain, monkeypatch):
    monkeypatch.setenv("CLINIC_NAME", "Calm Clinic")
    monkeypatch.setenv("CLINIC_PHONE", "555-0100")
    monkeypatch.setenv("CLINIC_BOOKING_URL", "https://example.org/book")
    events = await ActionHandoffToHuman().run(dispatcher, tracker_builder(), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff", "utter_clinic_contact_phone_and_booking"]
    assert SlotSet("handoff_requested", True) in events


async def test_handoff_without_clinic_details_still_names_a_professional(dispatcher, tracker_builder, domain, monkeypatch):
    for name in ("CLINIC_NAME", "CLINIC_PHONE", "CLINIC_BOOKING_URL"):
        monkeypatch.delenv(name, raising=False)
    await ActionHandoffToHuman().run(dispatcher, tracker_builder(slots={"crisis_flagged": True}), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff", "utter_crisis_reminder"]
    assert "mental health professional" in dispatcher.messages[0]["professional"]
