"""Small talk with more words than a greeting: thanks, praise, farewells, feelings and venting
with no request ("argh this is so annoying"), and questions about Grace herself ("are you a
robot?"). A request for something that is not Grace's ("recommend me a good movie") is not small
talk, whatever words of praise it holds; neither is a sentence naming an action or anything she
runs.
"""

from __future__ import annotations

from collections.abc import Callable

from grace_chat.chat import vocabulary as v
from grace_chat.chat.normalize import Text

#: Words that make a sentence social ("thanks, that's everything", "see you tomorrow").
_SOCIAL = v.GREETINGS | v.THANKS | v.PLEASED | v.FEELINGS | frozenset(
    {"bye", "goodbye", "howareyou", "whoareyou", "cya", "later", "star", "legend", "amazing",
     "love", "lovely", "sweet", "neat",
     "brilliant", "best", "wonderful", "fantastic", "helpful", "smart", "lol", "haha"}
)  # fmt: skip


def social(text: Text, grace_word: Callable[[str], bool]) -> bool:
    """Small talk with more words than greetings: a word of thanks, greeting or praise, and no
    word that names an action or anything Grace runs."""
    found = _SOCIAL & (set(text.said) | set(text.words))
    if not found and not about_grace(text.said):
        return False
    if requests_other(text.said):
        return False  # "recommend me a good movie": a request for something not Grace's
    return not any(grace_word(w) for w in (*text.words, *text.said) if w != "see")


#: Words asking what Grace is: "are you a robot?", "are you human", "what's your name?".
_SELF = frozenset(
    {
        "robot",
        "bot",
        "human",
        "person",
        "real",
        "ai",
        "machine",
        "alive",
        "computer",
        "chatbot",
        "sentient",
        "conscious",
        "name",
        "old",
        "feelings",
        "married",
        "single",
        "male",
        "female",
        "girl",
        "woman",
        "man",
        "people",
    }
)
#: Verbs that ask for something to be done or given ("recommend me a movie", "tell me a joke").
_ASKING_FOR = frozenset({"recommend", "suggest", "find", "tell", "give", "get", "book", "order",
                         "buy", "write", "make", "send", "play", "sing", "draw", "cook", "plan",
                         "pick", "choose", "translate", "call", "text", "remind", "search",
                         "fetch", "bring", "teach", "explain", "name"})  # fmt: skip


def about_grace(said: tuple[str, ...]) -> bool:
    """ "are you a robot?", "are you human", "what is your name": a question about Grace
    herself (her work is asked about otherwise)."""
    asks = said[:2] in (("are", "you"), ("were", "you"), ("do", "you")) or "your" in said[:4]
    return asks and bool(_SELF.intersection(said))


def requests_other(said: tuple[str, ...]) -> bool:
    """ "recommend me a good movie", "find us a nice restaurant": a request for something (an
    asking verb, or a thing wanted "for me / us"), which praise words do not make small talk."""
    words = [w for w in said if w not in ("please", "pls", "grace", "can", "could", "you")]
    if words[:1] and words[0] in _ASKING_FOR:
        return True
    return any(
        w in ("me", "us") and said[i + 1 : i + 2] in (("a",), ("an",), ("some",))
        for i, w in enumerate(said)
    )
