import pytest

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


def test_menu_lists_the_marked_topics_in_order(domain):
    buttons = menu_buttons(domain)
    assert 5 <= len(buttons) <= 10
    titles = [b["title"] for b in buttons]
    assert len(set(titles)) == len(titles)


async def test_list_topics_sends_quick_replies(dispatcher, tracker_builder, domain):
    await ActionListTopics().run(dispatcher, tracker_builder(), domain)
    assert dispatcher.messages[0]["response"] == "utter_topics_intro"
    assert dispatcher.messages[0]["buttons"] == menu_buttons(domain)


def test_likeliest_topics_follow_the_response_selector_ranking(tracker_builder, domain):
    topics = faq_topics(domain)[:5]
    tracker = tracker_builder(latest_message=fallback_message(topics))
    buttons = likeliest_topics(tracker, domain)
    expected = [domain["responses"][f"utter_{t}"][0]["metadata"]["title"] for t in topics[:MAX_SUGGESTIONS]]
    assert [b["title"] for b in buttons] == expected


async def test_first_unclear_question_offers_the_likeliest_topics(dispatcher, tracker_builder, domain):
    topics = faq_topics(domain)[:4]
    tracker = tracker_builder(
        latest_message=fallback_message(topics),
        events=[{"event": "action", "name": "utter_greet"}, {"event": "user", "text": "hmm"}],
    )
    events = await ActionOfferTopics().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_clarify"
    assert len(dispatcher.messages[0]["buttons"]) == MAX_SUGGESTIONS
    assert events == []


async def test_second_unclear_question_in_a_row_admits_it_and_refers(dispatcher, tracker_builder, domain):
    tracker = tracker_builder(
        latest_message=fallback_message(faq_topics(domain)[:3]),
        events=[
            {"event": "user", "text": "blah"},
            {"event": "action", "name": "action_offer_topics"},
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": "blah blah"},
        ],
    )
    await ActionOfferTopics().run(dispatcher, tracker, domain)
    sent = [m["response"] for m in dispatcher.messages]
    assert sent[0] == "utter_no_information"
    assert sent[1] == "utter_referral_first"


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
