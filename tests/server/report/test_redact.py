"""redact(): phone numbers, e-mail addresses and names out; look-alikes left alone."""

from __future__ import annotations

import pytest

from bot.server.report.redact import EMAIL, NAME, PHONE, redact


@pytest.mark.parametrize(
    "text",
    [
        # US
        "call me at 555-123-4567",
        "my number is (555) 123-4567",
        "555.123.4567 is my cell",
        "text 5551234567 please",
        "+1 555 123 4567",
        "+1 (555) 123-4567",
        "1-800-273-8255",
        "555-1234 is my home line, 555-123-4567 too",
        # International
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "07700 900123",
        "+33 1 23 45 67 89",
        "0033 1 23 45 67 89",
        "+91 98765 43210",
        "+61 2 9374 4000",
        "+4915112345678",
    ],
)
def test_phone_numbers_are_redacted(text):
    redacted = redact(text)
    assert PHONE in redacted
    assert not any(character.isdigit() for character in redacted.replace(PHONE, "")), redacted


@pytest.mark.parametrize(
    "text",
    [
        "sessions last 20 to 40 minutes",
        "36 sessions over 6 weeks",
        "5 days a week for 4-6 weeks",
        "I take 150 mg of sertraline",
        "In 2019 I had 12 ECT treatments",
        "I started on 2024-01-05",
        "I started on 05.01.2024",
        "it costs $15,000 or 15000 dollars",
        "call or text 988",
        "text HOME to 741741",
        "1 in 3 people respond",
        "10-15 sessions",
        "1 2 3 4 5 6 7 8",
        "10 20 30 40 50 minutes",
        "at 10:30 am",
    ],
)
def test_numbers_that_are_not_phone_numbers_stay(text):
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email me at john.smith+tms@example.co.uk please", f"email me at {EMAIL} please"),
        ("Jane_Doe99@mail.example.com", EMAIL),
        ("write to a.b-c@clinic-x.org.", f"write to {EMAIL}."),
    ],
)
def test_emails_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my name is Sarah Jones and I have a question", f"my name is {NAME} and I have a question"),
        ("my name is sarah, how long is a session?", f"my name is {NAME}, how long is a session?"),
        ("My name's Ahmed", f"My name's {NAME}"),
        ("Hi, I'm Maria. Does TMS hurt?", f"Hi, I'm {NAME}. Does TMS hurt?"),
        ("I am John Smith, can I get TMS?", f"I am {NAME}, can I get TMS?"),
        ("im Priya and I want to know about tms", f"im {NAME} and I want to know about tms"),
        ("this is Priya, a question about side effects", f"this is {NAME}, a question about side effects"),
        ("Hello this is Sam from the clinic", f"Hello this is {NAME} from the clinic"),
        ("Mary Jones told me TMS works", f"{NAME} told me TMS works"),
        ("my psychiatrist Dr. Patel suggested TMS", f"my psychiatrist Dr. {NAME} suggested TMS"),
        ("my doctor is Dr Brown", f"my doctor is Dr {NAME}"),
        ("My wife Anna has depression", f"My wife {NAME} has depression"),
        ("Sarah here, is TMS safe?", f"{NAME} here, is TMS safe?"),
        ("is TMS like ECT? thanks, Priya", f"is TMS like ECT? thanks, {NAME}"),
        ("is TMS like ECT? - Jane", f"is TMS like ECT? - {NAME}"),
        ("my name is Sarah O'Brien-Smith", f"my name is {NAME}"),
        ("I'm Zoë", f"I'm {NAME}"),
    ],
)
def test_names_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # Acronyms and the treatment, at the start of a sentence or after "I'm"
        "TMS vs ECT, which is better?",
        "ECT or TMS for me",
        "I'm TMS-curious",
        "I am ECT-resistant",
        "What is rTMS",
        "Is it FDA approved for OCD?",
        "The Stanford SAINT protocol",
        "Is NeuroStar better than BrainsWay",
        # Medicines at the start of a sentence, capitalised, in pairs
        "Prozac and TMS together?",
        "Zoloft Side Effects with TMS",
        "Lexapro makes me tired",
        "Sertraline Dosage and TMS",
        "Lithium Levels during TMS",
        "Wellbutrin Or Prozac with TMS",
        "Spravato vs TMS, which one",
        "I'm on Zoloft",
        "I'm Prozac-free now",
        # Title case questions and ordinary capitalised words
        "How Long Is A Session",
        "Does Medicare Cover TMS",
        "Side Effects Of TMS",
        "What about St John's Wort and TMS",
        "Can I drive after TMS?",
        "I'm not sure TMS is right",
        "I'm on Monday and Friday",
        "this is Monday's session",
        "call me back please",
        "my name is not important",
    ],
)
def test_look_alikes_are_not_redacted(text):
    assert redact(text) == text


def test_all_three_together():
    text = "I'm Sarah Jones, sarah.j@example.com, +1 (555) 123-4567. Can TMS help?"
    assert redact(text) == f"I'm {NAME}, {EMAIL}, {PHONE}. Can TMS help?"


def test_empty_and_placeholder_text_is_stable():
    assert redact("") == ""
    once = redact("my name is Sarah Jones, call 555-123-4567")
    assert redact(once) == once


@pytest.mark.parametrize("name", ["Sarah", "Okafor"])
def test_a_name_the_training_data_mentions_is_still_a_name(name):
    # Ordinary questions in data/nlu name people ("a young lady named Sarah", "Dr Okafor");
    # a word the data only ever capitalises is a proper noun, not an ordinary word.
    from bot.server.training import PROJECT_ROOT

    data = " ".join(path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "data" / "nlu").glob("*.yml"))
    assert name in data and name.lower() not in data
    assert redact(f"my therapist {name} thinks TMS could help") == f"my therapist {NAME} thinks TMS could help"
