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
     "love", "lovely", "sweet", "neat", "useless", "stupid", "dumb", "rubbish", "hopeless",
     "brilliant", "best", "wonderful", "fantastic", "helpful", "smart", "lol", "haha",
     "appreciate", "appreciated"}
)  # fmt: skip


def social(text: Text, grace_word: Callable[[str], bool]) -> bool:
    """Small talk with more words than greetings: a word of thanks, greeting or praise, and no
    word that names an action or anything Grace runs."""
    found = _SOCIAL & (set(text.said) | set(text.words))
    if not found and not about_grace(text.said):
        return False
    if requests_other(text.said):
        return False  # "recommend me a good movie": a request for something not Grace's
    aux = v.AUX if about_grace(text.said) else frozenset()  # "do you ever sleep?"
    return not any(grace_word(w) for w in (*text.words, *text.said) if w != "see" and w not in aux)


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
        "sleep",
        "dream",
        "eat",
        "rest",
        "chatgpt",
        "gpt",
        "openai",
        "siri",
        "alexa",
        "claude",
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
    if said[:1] == ("who",) and said[-1:] == ("you",) and set(said) & _MAKERS:
        return True  # "who made you?"
    asks = (
        said[:2] in (("are", "you"), ("were", "you"), ("do", "you"))
        or "your" in said[:4]
        or said[:3] in (("how", "old", "are"), ("where", "are", "you"))  # "how old are you"
    )
    return asks and bool(_SELF.intersection(said))


_MAKERS = frozenset({"made", "created", "built", "wrote", "programmed", "designed", "trained",
                     "coded", "develops", "developed", "make", "create", "build"})  # fmt: skip
#: A sigh that opens a sentence, and words of complaint: venting when nothing is asked for.
_SIGHS = frozenset({"ugh", "argh", "sigh", "grr", "meh", "urgh", "ffs", "omg"})
_COMPLAINTS = frozenset({"nightmare", "frustrating", "frustrated", "annoying", "annoyed",
                         "painful", "infuriating", "hate", "exhausted", "exhausting"})  # fmt: skip
#: Verbs that make a sigh's words a statement ("ugh, the builds have been awful").
_STATING = frozenset({"is", "are", "was", "were", "has", "have", "been", "keeps", "keep",
                      "always", "seem", "seems", "never"})  # fmt: skip
#: Venting with no request: "I'm so tired of these failed deployments".
_WEARY = frozenset({"tired", "sick", "fed", "exhausted", "weary"})


def vents(text: Text) -> bool:
    """ "I'm so tired of these failed deployments", "ugh, deployments are always a nightmare":
    weariness or a complaint said of something, no request (no verb of Grace's, not a question)."""
    said = text.said
    if not text.asked and said[:2] in (("i", "wish"), ("i", "hope")) and "you" not in said[2:4]:
        return True  # "I wish backups didn't take so long"; not "I wish you would stop it"
    if text.asked or any(w in v.VERB or w in v.GERUND for w in said):
        return False
    if (said[:1] and said[0] in _SIGHS and _STATING & set(said)) or _COMPLAINTS & set(said):
        return True  # "ugh, deployments here are always a nightmare"; not "ugh the deployment"
    return (
        said[:2] in (("i", "am"), ("we", "are"), ("i", "get"))
        and bool(_WEARY & set(said))
        and ("of" in said or "up" in said)
        and not any(w in v.VERB or w in ("but", "can", "could", "please") for w in said[2:])
    )


#: Where a request for help with something else begins: "help me …", "how do I …".
_OTHER_HELP = (("help", "me"), ("help", "us"), ("how", "do", "i"), ("how", "can", "i"),
               ("how", "to"), ("how", "do", "you"), ("how", "should", "i"))  # fmt: skip


#: Words after "help me" that keep it Grace's help ("help me out here", "help me with …").
_GRACES_HELP = frozenset({"use", "with", "to", "out", "understand", "get"})


def other_help(said: tuple[str, ...], grace_word: Callable[[str], bool]) -> bool:
    """ "help me write my resume", "how do I fix a leaky tap": help with something that is not
    Grace's (her own help is "help", "how do I cancel a task")."""
    for start in _OTHER_HELP:
        if said[: len(start)] == start:
            rest = said[len(start) :]
            if len(rest) < 2 or rest[0] in v.VERB or rest[0] in _GRACES_HELP:
                return False
            return rest[0] in _ASKING_FOR or not any(grace_word(w) for w in rest[1:])
    return False


def requests_other(said: tuple[str, ...]) -> bool:
    """ "recommend me a good movie", "find us a nice restaurant": a request for something (an
    asking verb, or a thing wanted "for me / us"), which praise words do not make small talk."""
    words = [w for w in said if w not in ("please", "pls", "grace", "can", "could", "you")]
    if words[:1] and words[0] in _ASKING_FOR:
        return True
    if said[:2] == ("what", "is") and {"good", "best", "nice", "great"} & set(said[2:5]):
        return True  # "what's a good pasta recipe": a recommendation asked for
    return any(
        w in ("me", "us") and said[i + 1 : i + 2] in (("a",), ("an",), ("some",))
        for i, w in enumerate(said)
    )
