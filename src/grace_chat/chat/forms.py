"""The forms of a sentence that decide whether it may act, read from its words alone.

``intents`` asks these before it looks for a command: is the sentence small talk, a request for
help, a hypothetical ("would it be bad to reject this?", "do you think I should stop the sync?",
"my boss wants to know if we can cancel it"), or a wish for a new task of a type ("another
backup")? Does it quote a command rather than give one, is it social talk, a refusal without one
of Grace's verbs, or a verb whose object is nothing Grace runs ("stop the music")?
``command_for`` says which command a verb makes of a thing; ``run_args`` what a request to start
a task names. (Requests said in other shapes are rewritten by ``rewrites``.)
Each function takes the words ``normalize`` kept (``words``) or every word said (``said``) and
never acts on anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from grace_chat.chat import vocabulary as v
from grace_chat.chat import words as rw
from grace_chat.chat.normalize import Text, is_id

SUBJECTS = frozenset({"i", "we", "he", "she", "they"})
#: Words of wanting: "I want the deployment cancelled" asks for the participle's action.
DESIRE = frozenset({"want", "need", "like", "love", "wanted", "needs", "get"})
SMALL = v.GREETINGS | v.THANKS | v.PLEASED | frozenset(
    {"grace", "good", "so", "much", "you", "there", "day", "night", "all", "very", "bye",
     "goodbye", "welcome", "lol", "haha", "again", "job", "done", "well", "are", "the", "best",
     "amazing", "brilliant", "star", "helpful", "legend", "smart", "wonderful", "fantastic",
     "u", "ya", "thing", "later", "gotit", "howareyou", "lmao", "heh", "cya", "ttyl", "bro",
     "mate", "buddy", "friend", "one", "appreciate", "appreciated", "it", "that"}
)  # fmt: skip
_HELP = ("what can you do", "what can i say", "what can i ask", "what do you understand",
         "what commands", "which commands", "what can i do", "how do i", "how can i", "how to ",
         "what do you do", "what are you able to", "what can you help",
         "what do you help", "what else can you")  # fmt: skip
#: Openings of a sentence that speaks of an action without asking for it.
_HYPOTHETICAL = tuple(
    m.split()
    for m in (
        "what would happen if", "what happens if", "what will happen if",
        "what would happen when", "what if", "what about if", "suppose", "supposing",
        "imagine", "hypothetically", "is it safe to", "would it be safe to", "is it ok to",
        "would it be ok to", "should i", "should we", "shall i", "shall we", "if i", "if we",
        "if you", "would it hurt to", "what would", "what happens when",
        "what will happen when", "what happens after", "i wonder if", "i wonder whether",
        "do you think", "do you reckon", "ought i", "ought we", "in theory", "theoretically",
        "how risky is it to", "how safe is it to", "is it risky to", "is it dangerous to",
        "what are the risks of", "what is the risk of", "how bad would it be to",
    )
)  # fmt: skip
_THINKING = frozenset({"think", "reckon", "suggest", "recommend", "advise", "wonder"})
#: Verbs after "I should" that ask about something rather than weigh doing it.
_AWARE = frozenset({"know", "be", "care", "worry", "see", "look", "check", "hear"})
#: Words that report a question: "… wants to know if …", "she asked me whether …".
_ASKING = frozenset({"know", "asked", "asks", "asking", "wonder", "wondering", "wonders",
                     "wondered", "curious", "unsure", "check", "checking", "find",
                     "me"})  # fmt: skip


def command_for(verb: str, thing: str | None) -> str | None:
    """The command a verb makes of a thing: "stop" + learning → ``pause_learning``."""
    if verb in ("approve", "reject"):
        return verb
    if thing == "learning":
        return {"cancel": "pause_learning", "pause": "pause_learning",
                "resume": "resume_learning", "run": "resume_learning"}.get(verb)  # fmt: skip
    if thing in (None, "task"):
        return {"cancel": "cancel_task", "pause": "pause_task", "resume": "resume_task",
                "run": "run_task"}.get(verb)  # fmt: skip
    return None


def is_help(said: tuple[str, ...]) -> bool:
    joined = " ".join(said)
    if said[:1] == ("help",) or joined in ("commands", "menu", "options"):
        return True
    if (
        _explains(list(said))
        or _compares(said)
        or (said[:2] in (("how", "does"), ("how", "do")) and said[-1:] == ("work",))
    ):
        return True  # "how does approval work?"
    return bool(_ABILITY.search(joined)) or any(
        joined.startswith(a) or f" {a}" in joined for a in _HELP
    )


#: Questions about what Grace can do, in any wording: "what kinds of things can I ask you",
#: "what sort of stuff can you do?", "what are you capable of", "what are your abilities".
_ABILITY = re.compile(
    r"^(?:so |and |ok |hey |grace )*(?:what|which)(?: (?:kind|kinds|sort|sorts|type|types|of|"
    r"things|thing|stuff|else|questions|requests|jobs|other|commands|command|phrases|words))* "
    r"(?:can|could|should|do|may) "
    r"(?:i|you|we) (?:ask|say|do|help|type|tell|request|make|give|handle|use|get you|"
    r"understand|know)\b"
    r"|\b(?:capable of|your capabilities|your abilities|your features|you good for|you good at"
    r"|what are you for|what is your purpose|how can you help|how do i use you)\b"
)


_COMPARING = frozenset({"difference", "differences", "different", "differ", "differs", "vs",
                        "versus", "compare", "compared", "unlike"})  # fmt: skip


def _compares(said: tuple[str, ...]) -> bool:
    """ "what's the difference between pausing and cancelling a job?", "pausing vs cancelling":
    how two of Grace's actions differ, which her help explains."""
    actions = {v.GERUND.get(w) or v.VERB.get(w) for w in said} - {None, "show"}
    return bool(_COMPARING.intersection(said)) and len(actions) >= 2


_HERE = frozenset({"here", "exactly", "again", "precisely", "in", "grace"})


def _explains(words: list[str]) -> bool:
    """ "what does pausing do?", "what does cancelling a task mean?": what an action does."""
    return (
        len(words) > 3
        and words[0] == "what"
        and words[1] in ("does", "do")
        and (words[-1] in ("do", "mean") or (words[-2] == "mean" and words[-1] in _HERE))
        and any(w in v.GERUND or w in v.VERB for w in words[2:-1])
    )


def reported_question(words: list[str]) -> int | None:
    """Where the question reported after "if" / "whether" starts ("Priya is asking if the backup
    is still running"), or None."""
    for i, word in enumerate(words[1:-1], 1):
        if word in ("if", "whether") and _ASKING & set(words[max(0, i - 3) : i]):
            return i + 1
    return None


def hypothetical(words: list[str]) -> int | None:
    """Where the action of a hypothetical starts, or None when the sentence is not one."""
    for marker in _HYPOTHETICAL:
        if words[: len(marker)] == marker:
            return len(marker)
    if words[0] == "if" and len(words) > 2:
        return 1  # "if the deployment fails again, should I cancel the backup?"
    reported = reported_question(words)  # "my boss wants to know if we can cancel it"
    if reported is not None:
        return reported
    passive = [i for i, w in enumerate(words[2:-1], 2) if w == "be" and words[i + 1] in v.PAST_VERB]
    if words[0] in ("can", "could") and words[1:2] in (["a"], ["an"], ["any"]) and passive:
        return passive[0] + 1  # "can a paused task be cancelled?": whether one can, no request
    if len(words) > 1 and words[0] in v.AUX and words[1] in v.GERUND:
        return 1  # "can cancelling the backup corrupt it?"
    if words[0] in v.AUX | v.QUESTION and "if" in words[1:]:
        return words.index("if") + 1  # "would it be a problem if I cancelled the sync?"
    if words[0] in v.AUX and words[1:2] in (["it"], ["that"]) and "to" in words[2:8]:
        return words.index("to") + 1  # "would it be bad to reject this?"
    for i, word in enumerate(words[:-1]):  # "do you think I should stop the sync?"
        if word in ("should", "shall", "ought") and i > 0 and words[i - 1] in SUBJECTS:
            if words[i + 1] in _AWARE:
                continue  # "any failed tasks I should know about?": asks about them
            if words[i + 1] in v.NEGATIONS:
                return None  # "we should not stop learning" declines

            return i + 1
        if word in _THINKING and i > 0 and words[i - 1] in ("you", "i", "we"):
            return i + 1
    return None


def wished_done(rest: list[str]) -> str | None:
    """The action wished for as a participle after a word of wanting: "(I don't) want the
    backup cancelled" → ``cancel``; None when the words are not such a wish."""
    if not rest or rest[0] not in DESIRE | {"have"}:
        return None
    for word in rest[1:]:
        done = v.PAST_VERB.get(word)
        if done in ("cancel", "pause", "resume", "run", "approve", "reject"):
            return done
    return None


def acknowledged(text: Text) -> bool:
    """ "ok cool", "alright, great": a word of yes with words of being pleased, no more (an
    acknowledgement like a bare "ok", not praise)."""
    said = set(text.said) - _HESITATING
    return bool(said & v.YES) and said <= v.YES | v.PLEASED


_HESITATING = frozenset({"grace", "hmm", "um", "uh", "oh", "ah", "well", "so", "then"})


#: Words of approving that, with "of", make an everyday idiom: "approve of", "disapprove of".
_IDIOMS = frozenset({"approve", "disapprove"})


def idiom(words: list[str]) -> bool:
    """ "do you approve of my outfit?": to approve *of* something is an opinion, not a
    decision on a request."""
    return any(
        (v.VERB.get(w) == "approve" or v.PAST_VERB.get(w) == "approve"
         or v.GERUND.get(w) == "approve" or w in _IDIOMS) and words[i + 1 : i + 2] == ["of"]
        for i, w in enumerate(words)
    )  # fmt: skip


#: A quoted span: "…", “…” or '…' standing alone (not an apostrophe inside a word).
_QUOTED = re.compile(r"[\"“”]([^\"“”]+)[\"“”]|(?:^|(?<=\s))['‘]([^'‘’]+)['’](?=\s|$|[.,!?;:])")


def quoted(raw: str) -> list[str]:
    """The spans of ``raw`` in quotes."""
    return [m.group(1) or m.group(2) or "" for m in _QUOTED.finditer(raw)]


def unquoted(raw: str) -> str:
    """``raw`` without its quoted spans."""
    return _QUOTED.sub(" ", raw)


def quotes_a_command(raw: str) -> bool:
    """'"cancel the backup" is what he typed': a command quoted inside a sentence about it is
    mentioned, not given. True when a quoted span starts with a verb Grace obeys and words stand
    outside it."""
    spans = quoted(raw)
    outside = _QUOTED.sub(" ", raw)
    if not spans or not re.search(r"[a-zA-Z]{2,}", outside):
        return False
    return any(
        (first := [w for w in re.findall(r"[a-z]+", span.lower()) if w not in _SOFTENERS][:1])
        and first[0] in v.VERB
        for span in spans
    )


#: Words before a quoted command that leave it a command ('"just kill the sync"').
_SOFTENERS = frozenset({"just", "please", "pls", "plz", "ok", "okay", "now", "simply", "go"})


def new_of_type(words: list[str], type_of: Callable[[str], str | None]) -> str | None:
    """ "new sync task", "another backup": a request for a new task named by its type alone."""
    if len(words) < 2 or words[0] not in ("new", "another", "fresh"):
        return None
    rest = [w for w in words[1:] if w not in ("new", "fresh", "one")]
    if rest and type_of(rest[0]) and all(v.THING.get(w) == "task" for w in rest[1:]):
        return rest[0]
    return None


#: Words of interfering with something: "don't touch the learning", "do not mess with it".
_MEDDLE = frozenset({"touch", "mess", "change", "bother", "interfere", "disturb", "with", "a",
                     "anything", "it", "that", "this", "them", "alone", "the", "my"})  # fmt: skip
_REFUSING = frozenset({"do", "i", "we", "please", "better", "would", "rather", "you"})


def meddling(before: list[str], after: list[str], grace_word: Callable[[str], bool]) -> bool:
    """A refusal without one of Grace's verbs: "nope, don't", "don't touch the learning"."""
    if not set(before) <= _REFUSING:
        return False
    left = [w for w in after if w not in _MEDDLE]
    return (not after or bool(_MEDDLE & set(after) - {"the", "my", "a"})) and all(
        grace_word(w) for w in left
    )


def foreign(rest: list[str], known: frozenset[str], type_of: Callable[[str], str | None]) -> bool:
    """Whether the object of a verb is something Grace does not run ("the music", "time until
    lunch", "thinking about lunch"): its first word is not one she knows and no word of it
    names one of her things (a thing, task type, id, state, recency, pronoun, "all")."""
    content = [w for w in rest if w not in rw.ARTICLES and w not in v.NEGATIONS]
    if rest[:1] in (["me"], ["us"], ["you"], ["yourself"]) and not any(
        w in v.THING or is_id(w) or type_of(w) for w in rest[1:]
    ):
        return True  # "kill me now": a person, not a task ("run me a backup" is one)
    if not content or content[0] in known or content[0] in rw.VAGUE:
        return False
    return not any(
        w in v.THING or w in v.STATE or w in v.RECENT or w in v.PRONOUNS or w in v.ALL
        or w in rw.VAGUE or is_id(w) or type_of(w) is not None
        for w in content
    )  # fmt: skip


def graces(rest: list[str], type_of: Callable[[str], str | None]) -> bool:
    """Whether the object of a task type used as a verb is Grace's: nothing ("deploy now"),
    a thing, task type, id, pronoun, state or recency ("build it again"), or a thing of
    software ("deploy the backend"); "build a snowman with me" names none."""
    content = [w for w in rest if w not in rw.ARTICLES and w != "inbackground"]
    first = content[0] if content else ""
    ours = (
        first in v.THING or first in v.PRONOUNS or first in v.ALL or first in v.STATE
        or first in v.RECENT or is_id(first) or type_of(first) is not None
    )  # fmt: skip
    if rest[:1] in (["me"], ["us"]) and content:
        return ours  # "build me a website": a thing to be made, not a job ("build me one" is)
    if not content or ours:
        return True  # "deploy", "build it again"
    if made(rest):
        return False  # "build an app": a new thing to make (the reader asks)
    return bool(v.SYSTEM.intersection(content))  # "build the docker image"


def made(rest: list[str]) -> bool:
    """ "a website", "an app", "a new page": a thing of software still to be made (a task works
    on one that exists: "deploy the website")."""
    for i, word in enumerate(rest):
        if word in v.MADE:
            return not any(w in ("the", "our", "my", "your", "this", "that") for w in rest[:i])
    return False


def everyday(extra: list[str]) -> bool:
    """Whether the words after a task type name an everyday thing and nothing of software: "a
    backup of my photos", "a sync with my phone" (but "a build of the app")."""
    return bool(v.ORDINARY.intersection(extra)) and not v.SYSTEM.intersection(extra)


def everyday_approval(rest: list[str]) -> bool:
    """ "approve my holiday request": an everyday thing, not one of Grace's approvals."""
    return not any(is_id(w) for w in rest) and bool(v.ORDINARY.intersection(rest))


def run_args(rest: list[str], type_of: Callable[[str], str | None]) -> dict[str, str]:
    """What a request to start a task names: the type word (``what``) and any words after it."""
    words = [w for w in rest if w not in rw.ARTICLES]
    typed = next((w for w in words if type_of(w)), None)
    what = typed or next((w for w in words if w not in v.THING and w not in v.PRONOUNS), None)
    if what is None:
        return {}
    after = words[words.index(what) + 1 :]
    extra = [w for w in after if w not in v.THING and w not in v.COMMON]
    return {"what": what, **({"rest": " ".join(extra)} if extra else {})}


def relative(after: list[str]) -> bool:
    """ "that" before a verb or a state is a relative pronoun ("jobs that failed")."""
    return bool(after) and (after[0] in v.AUX or after[0] in v.STATE or after[0] in v.PAST_VERB)
