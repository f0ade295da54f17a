"""The HWU64 team for bench/routing_quality.py: one agent per scenario, described as a user would.

Written from the scenario and intent names only (never from test requests): a sentence, and
each intent as a skill in words.
"""

from __future__ import annotations

TEAM: dict[str, tuple[str, tuple[str, ...]]] = {
    "alarm": (
        "Sets, checks and removes my alarms and wake-up calls.",
        ("set an alarm", "check my alarms", "remove an alarm"),
    ),
    "audio": (
        "Turns the speaker volume up or down, or mutes it.",
        ("volume up", "volume down", "mute the sound"),
    ),
    "calendar": (
        "Manages my calendar: meetings, events, appointments and reminders.",
        ("check my calendar", "add an event or a reminder", "cancel a meeting"),
    ),
    "cooking": ("Finds recipes and tells me how to cook a dish.", ("find a recipe",)),
    "datetime": (
        "Tells the date and the time anywhere, and converts between time zones.",
        ("what time or date it is", "convert a time to another time zone"),
    ),
    "email": (
        "Reads, writes and sends my emails, and keeps my contacts.",
        ("check my emails", "send an email", "add a contact", "look up a contact's details"),
    ),
    "general": (
        "Small talk: jokes, yes and no, thanks, stop, say that again, explain what you said.",
        (
            "yes, that's right",
            "no",
            "stop",
            "tell a joke",
            "repeat that",
            "explain",
            "thanks, well done",
            "I don't care",
            "chit-chat about you",
            "confirm what I asked",
        ),
    ),
    "iot": (
        "Controls my smart home: lights, smart plugs, the robot vacuum and the coffee machine.",
        (
            "turn the lights on",
            "turn the lights off",
            "dim the lights",
            "brighten the lights",
            "change the light colour",
            "switch a smart plug on",
            "switch a smart plug off",
            "start the vacuum cleaner",
            "make me a coffee",
        ),
    ),
    "lists": (
        "Keeps my to-do and shopping lists: add, read and remove items.",
        ("create a list or add to it", "what's on my list", "remove an item from a list"),
    ),
    "music": (
        "Knows the music I like, says which song is playing and changes music settings.",
        ("I like this song", "what song is this", "shuffle or repeat the music"),
    ),
    "news": ("Reads me the latest news and headlines.", ("latest news",)),
    "play": (
        "Plays music, radio stations, podcasts, audiobooks and games.",
        ("play music", "play the radio", "play a podcast", "play an audiobook", "play a game"),
    ),
    "qa": (
        "Answers questions: facts, definitions, maths, exchange rates and stock prices.",
        ("a fact", "define a word", "do some maths", "currency exchange rate", "stock price"),
    ),
    "recommendation": (
        "Recommends movies, events and places to go near me.",
        ("recommend a movie", "events near me", "recommend a restaurant or a place"),
    ),
    "social": (
        "Posts on my social media and tells me what is new there.",
        ("post on social media", "what's new on social media", "complain to a company online"),
    ),
    "takeaway": (
        "Orders takeaway food and checks on my delivery.",
        ("order takeaway food", "where is my food order"),
    ),
    "transport": (
        "Books trains and taxis and tells me about traffic and travel.",
        ("book a train ticket", "call a taxi", "traffic on my way", "train times"),
    ),
    "weather": ("Tells me the weather forecast.", ("weather forecast",)),
}
"""Scenario -> (description, skills)."""

LEFT_OUT = ("cooking", "news", "social")
"""The scenarios left out of the team for the out-of-scope figures."""
