import pytest
from rasa_sdk.events import SlotSet

from actions.topics import (
    MAX_SUGGESTIONS,
    ActionListTopics,
    ActionOfferTopics,
    likeliest_topics,
    menu_buttons,
    previous_bot_action,
)


def faq_topics(domain):
    return [name[len("utter_"):] for name in domain["responses"] if name.startswith("utter_faq/")]


def fallback_message(ranked_topics):
    ranking = [{"intent_response_key": key, "confidence": 0.3 - i * 0.05} for i, key in enumerate(ranked_topics)]
    return {
        "text": "how long is the whole thing",
        "intent": {"name": "nlu_fallback", "confidence": 0.4},
        "response_selector": {"faq": {"ranking": ranking}},
    }


def test_every_faq_topic_has_a_title_and_a_question_for_buttons(domain):
    for topic in faq_topics(domain):
        metadata = domain["responses"][f"utter_{topic}"][0]["metadata"]
        assert metadata.get("title"), topic
        assert metadata.get("question", "").endswith("?"), topic


# The "what can I ask?" menu: the topics with a menu_order in data/responses/faq.yml, in
# that order, each button sending the topic's question. Written out: the menu is reviewed.
MENU = [
    {"title": "What is TMS?", "payload": "What is TMS?"},
    {"title": "How it works", "payload": "How does TMS work?"},
    {"title": "Session length", "payload": "How long is one TMS session?"},
    {"title": "Treatment course", "payload": "How many weeks does TMS treatment take?"},
    {"title": "During a session", "payload": "What happens during a TMS session?"},
    {"title": "Side effects", "payload": "What are the side effects of TMS?"},
    {"title": "TMS vs ECT", "payload": "How is TMS different from ECT?"},
    {"title": "Who it's for", "payload": "Who is TMS for?"},
    {"title": "Who shouldn't have it", "payload": "Who should not have TMS?"},
]


def test_menu_lists_the_marked_topics_in_order(domain):
    assert menu_buttons(domain) == MENU


def faq_response(title, question, menu_order=None):
    metadata = {"title": title, "question": question}
    if menu_order is not None:
        metadata["menu_order"] = menu_order
    return [{"text": "An answer.", "metadata": metadata}]


@pytest.fixture
def no_content_files(monkeypatch, tmp_path):
    """A project directory whose content files hold no responses: only the domain given counts."""
    (tmp_path / "domain.yml").write_text("version: \"3.1\"\n")
    monkeypatch.setenv("TMS_CONTENT_DIR", str(tmp_path))


def test_menu_order_not_file_order_decides_and_unmarked_topics_are_left_out(no_content_files):
    domain = {
        "responses": {
            "utter_greet": [{"text": "Hi!", "metadata": {"title": "Hi", "question": "Hi?", "menu_order": 0}}],
            "utter_faq/c": faq_response("C", "Cee?", menu_order=3),
            "utter_faq/a": faq_response("A", "Ay?", menu_order=1),
            "utter_faq/unmarked": faq_response("U", "You?"),
            "utter_faq/no_question": [{"text": "An answer.", "metadata": {"title": "N", "menu_order": 0}}],
            "utter_faq/b": faq_response("B", "Bee?", menu_order=2),
        }
    }
    assert menu_buttons(domain) == [
        {"title": "A", "payload": "Ay?"},
        {"title": "B", "payload": "Bee?"},
        {"title": "C", "payload": "Cee?"},
    ]


def responses(dispatcher):
    return [message["response"] for message in dispatcher.messages]


@pytest.fixture
def no_clinic(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "tracker.db"))  # no staff accounts in it
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    for name in ("CLINIC_NAME", "CLINIC_PHONE", "CLINIC_BOOKING_URL", "NOTIFY_WEBHOOK_URL", "NOTIFY_SMTP_HOST", "STAFF_INBOX_URL", "CLINIC_HOURS"):
        monkeypatch.delenv(name, raising=False)


async def test_list_topics_sends_quick_replies_then_the_first_referral(dispatcher, tracker_builder, domain, no_clinic):
    events = await ActionListTopics().run(dispatcher, tracker_builder(), domain)
    assert responses(dispatcher) == ["utter_topics_intro", "utter_referral_first"]
    assert dispatcher.messages[0]["buttons"] == MENU
    assert dispatcher.messages[1]["professional"] == "your doctor or a licensed mental health professional"
    assert events == [SlotSet("referral_count", 1.0)]


async def test_list_topics_later_in_the_conversation_ends_with_a_short_referral(dispatcher, tracker_builder, domain, no_clinic):
    events = await ActionListTopics().run(dispatcher, tracker_builder(slots={"referral_count": 2.0}), domain)
    assert responses(dispatcher) == ["utter_topics_intro", "utter_referral_reminder_2"]
    assert events == [SlotSet("referral_count", 3.0)]


async def test_list_topics_after_a_crisis_keeps_a_crisis_line_in_view(dispatcher, tracker_builder, domain, no_clinic):
    tracker = tracker_builder(slots={"crisis_flagged": True, "referral_count": 1.0})
    await ActionListTopics().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_topics_intro", "utter_referral_reminder_1", "utter_crisis_reminder"]


async def test_list_topics_gives_the_clinic_contacts_with_the_first_referral(dispatcher, tracker_builder, domain, monkeypatch):
    monkeypatch.setenv("CLINIC_NAME", "Calm Clinic")
    monkeypatch.setenv("CLINIC_PHONE", "555-0100")
    monkeypatch.delenv("CLINIC_BOOKING_URL", raising=False)
    await ActionListTopics().run(dispatcher, tracker_builder(), domain)
    assert responses(dispatcher) == ["utter_topics_intro", "utter_referral_first", "utter_clinic_contact_phone"]


def test_likeliest_topics_follow_the_response_selector_ranking(tracker_builder, domain):
    ranking = ["faq/side_effects", "faq/not_a_topic", "faq/seizure_risk", "faq/session_length", "faq/what_is_tms"]
    tracker = tracker_builder(latest_message=fallback_message(ranking))
    assert MAX_SUGGESTIONS == 3
    assert likeliest_topics(tracker, domain) == [
        {"title": "Side effects", "payload": "What are the side effects of TMS?"},
        {"title": "Seizure risk", "payload": "Can TMS cause seizures?"},
        {"title": "Session length", "payload": "How long is one TMS session?"},
    ]


FIRST_MISS_EVENTS = [{"event": "action", "name": "utter_greet"}, {"event": "user", "text": "hmm"}]
SECOND_MISS_EVENTS = [
    {"event": "user", "text": "blah"},
    {"event": "action", "name": "action_offer_topics"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "blah blah"},
]


async def test_first_unclear_question_offers_the_likeliest_topics_and_refers(dispatcher, tracker_builder, domain, no_clinic):
    ranking = ["faq/treatment_course", "faq/maintenance", "faq/session_length", "faq/consistency"]
    tracker = tracker_builder(latest_message=fallback_message(ranking), events=FIRST_MISS_EVENTS)
    events = await ActionOfferTopics().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_clarify", "utter_referral_first"]
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "Treatment course", "payload": "How many weeks does TMS treatment take?"},
        {"title": "Maintenance sessions", "payload": "What are maintenance sessions?"},
        {"title": "Session length", "payload": "How long is one TMS session?"},
    ]
    assert "buttons" not in dispatcher.messages[1] or not dispatcher.messages[1]["buttons"]
    assert events == [SlotSet("referral_count", 1.0)]


async def test_first_unclear_question_later_on_gets_a_short_referral_and_crisis_line(dispatcher, tracker_builder, domain, no_clinic):
    tracker = tracker_builder(
        slots={"crisis_flagged": True, "referral_count": 3.0},
        latest_message=fallback_message(faq_topics(domain)[:4]),
        events=FIRST_MISS_EVENTS,
    )
    events = await ActionOfferTopics().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_clarify", "utter_referral_reminder_3", "utter_crisis_reminder"]
    assert events == [SlotSet("referral_count", 4.0)]


async def test_second_unclear_question_in_a_row_admits_it_and_refers(dispatcher, tracker_builder, domain, no_clinic):
    tracker = tracker_builder(latest_message=fallback_message(faq_topics(domain)[:3]), events=SECOND_MISS_EVENTS)
    events = await ActionOfferTopics().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_no_information", "utter_referral_first"]
    assert events == [SlotSet("referral_count", 1.0)]


async def test_second_unclear_question_after_a_crisis_keeps_a_crisis_line_in_view(dispatcher, tracker_builder, domain, no_clinic):
    tracker = tracker_builder(
        slots={"crisis_flagged": True, "referral_count": 1.0},
        latest_message=fallback_message(faq_topics(domain)[:3]),
        events=SECOND_MISS_EVENTS,
    )
    await ActionOfferTopics().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_no_information", "utter_referral_reminder_1", "utter_crisis_reminder"]


async def test_unclear_question_with_no_likely_topic_admits_it_at_once(dispatcher, tracker_builder, domain, no_clinic):
    tracker = tracker_builder(latest_message=fallback_message([]), events=FIRST_MISS_EVENTS)
    await ActionOfferTopics().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_no_information", "utter_referral_first"]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], None),
        ([{"event": "user"}], None),
        ([{"event": "action", "name": "utter_greet"}, {"event": "action", "name": "action_listen"}, {"event": "user"}], "utter_greet"),
        ([{"event": "user"}, {"event": "action", "name": "action_listen"}, {"event": "user"}], None),
    ],
)
def test_previous_bot_action(tracker_builder, events, expected):
    assert previous_bot_action(tracker_builder(events=events)) == expected


async def test_second_miss_offers_a_person_only_when_one_can_answer(dispatcher, tracker_builder, domain, no_clinic, monkeypatch):
    tracker = tracker_builder(latest_message=fallback_message(faq_topics(domain)[:3]), events=SECOND_MISS_EVENTS)
    await ActionOfferTopics().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["buttons"] == []  # nobody to answer: no button that promises one
    dispatcher.messages.clear()
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", "https://hooks.example.org/clinic")
    monkeypatch.setenv("STAFF_INBOX_URL", "https://assistant.example.org/staff")
    await ActionOfferTopics().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_no_information", "utter_referral_first"]
    assert dispatcher.messages[0]["buttons"] == [{"title": "Talk to a professional", "payload": "/talk_to_human"}]


def test_an_edited_title_in_the_content_files_shows_without_training(monkeypatch, tmp_path):
    (tmp_path / "data" / "responses").mkdir(parents=True)
    (tmp_path / "domain.yml").write_text("version: \"3.1\"\n")
    (tmp_path / "data" / "responses" / "faq.yml").write_text(
        "responses:\n  utter_faq/a:\n  - text: New answer.\n"
        "    metadata: {title: New title, question: \"Ay now?\", menu_order: 1}\n"
    )
    monkeypatch.setenv("TMS_CONTENT_DIR", str(tmp_path))
    trained = {"responses": {"utter_faq/a": faq_response("Old title", "Ay?", menu_order=1),
                             "utter_faq/b": faq_response("B", "Bee?", menu_order=2)}}
    assert menu_buttons(trained) == [{"title": "New title", "payload": "Ay now?"}, {"title": "B", "payload": "Bee?"}]
