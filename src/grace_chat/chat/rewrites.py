"""Requests said in other shapes, rewritten as the plain command words the reader understands.

"would you mind cancelling the sync" → "cancel the sync"; "learning can resume now" → "resume
learning"; "I want the deployment cancelled" → "cancel the deployment"; "we don't need build_789
any more, cancel it" → "cancel build_789"; "please you make pause to the backup" → "pause the
backup"; and a command's words end where the reason given after it starts ("abort the deploy,
it's going to the wrong cluster"). Each function takes the words ``normalize`` kept and returns
words (the same ones when the shape is not its own); none decides whether a sentence may act.
"""

from __future__ import annotations

from collections.abc import Callable

from grace_chat.chat import vocabulary as v
from grace_chat.chat.forms import DESIRE, SUBJECTS
from grace_chat.chat.normalize import Text


def polite(words: list[str], said: tuple[str, ...]) -> list[str]:
    """A request made politely with a gerund or a passive, as plain command words:
    "would you mind cancelling the sync" → "cancel the sync"; "could the deployment be paused"
    → "pause the deployment"."""
    if words and words[0] in v.GERUND and "mind" in said:
        return [v.GERUND[words[0]], *words[1:]]
    if (
        len(words) > 3
        and words[0] in ("could", "would", "will")
        and words[-2] == "be"
        and v.PAST_VERB.get(words[-1]) in ("cancel", "pause", "resume")
        and words[1] not in ("it", "this", "that", "i", "we", "you", "they")
    ):
        return [v.PAST_VERB[words[-1]], *words[1:-2]]
    return words


_NOT_A_THING = frozenset({"you", "it", "that", "this", "if", "whether", "when", "unless"})


def allowed(words: list[str]) -> list[str]:
    """ "learning can resume now", "the build may continue": a thing allowed to go on, said with
    the thing first, as the plain command ("resume learning")."""
    for i, word in enumerate(words[1:-1], 1):
        if word in ("can", "may") and v.VERB.get(words[i + 1]) in (
            "resume",
            "cancel",
            "pause",
            "run",
        ):
            if set(words[:i]) & (v.AUX | v.QUESTION | SUBJECTS | _NOT_A_THING):
                return words  # "can you …", "how can I …", "it can stop", "know if we can …"
            return [words[i + 1], *words[:i], *words[i + 2 :]]
    return words


#: Words that may follow a wished-for task: "we need a report, can you make one?".
_ASKED_TO_MAKE = frozenset({"please", "now", "can", "could", "would", "will", "you", "it",
                            "for", "me", "us", "asap", "soon", "today", "thanks", "started",
                            "job", "task", "run", "going", "made", "done", "quickly", "that",
                            "this"})  # fmt: skip


#: Words that open a clause of time or reason after a wish: it names nothing more to make.
_WHEN_CLAUSE = frozenset({"before", "after", "so", "because", "since", "while", "until", "as"})


def wished_type(said: tuple[str, ...], type_of: Callable[[str], str | None]) -> str | None:
    """ "we need a report", "I'd like a new backup": a wish for a new task of a type (the word
    that names it), or None."""
    rest = list(said)
    if rest[:1] and rest[0] in ("need", "want"):
        rest = ["i", *rest]  # "need a fresh build"
    if not rest or rest[0] not in SUBJECTS:
        return None
    rest = rest[1:]
    if rest[:1] == ["would"]:
        rest = rest[1:]
    if not rest or rest[0] not in DESIRE - {"get"}:
        return None
    rest = rest[1:]
    if not rest or rest[0] not in ("a", "an", "another", "new", "one"):
        return None
    rest = [w for w in rest if w not in ("a", "an", "another", "new", "one", "fresh")]
    for i, word in enumerate(rest):  # "I need a fresh backup before I touch the database"
        if word in _WHEN_CLAUSE and i:
            rest = rest[:i]
            break
    if rest and type_of(rest[0]) and all(w in _ASKED_TO_MAKE or w in v.VERB for w in rest[1:]):
        return rest[0]
    return None  # "I need a backup of my photos" is not a request


def wanted(words: list[str], text: Text) -> list[str]:
    """ "I want the deployment cancelled" → "cancel the deployment": a wish whose object ends
    in the participle of an action is a command."""
    last = v.PAST_VERB.get(words[-1])
    if text.asked or last not in ("cancel", "pause", "resume", "run"):
        return words
    rest = list(words)
    while rest and (rest[0] in SUBJECTS or rest[0] == "would"):
        rest = rest[1:]
    wished = bool(rest) and rest[0] in DESIRE | {"ensure"}  # "ensure the sync is paused"
    while rest and rest[0] in DESIRE | {"ensure"}:
        rest = rest[1:]
    while len(rest) > 2 and rest[-2] in ("is", "be", "gets", "stays", "remains"):
        rest = [*rest[:-2], rest[-1]]
    if not wished and rest:  # the wish was dropped as filler: "I want …"
        said = text.said
        wished = bool(DESIRE & set(said[: said.index(rest[0])] if rest[0] in said else ()))
    return [last, *rest[:-1]] if wished and len(rest) > 1 else words


def no_need_then(words: list[str]) -> list[str]:
    """ "we don't need build_789 any more, cancel it": a statement of no need followed by a
    command is the command, given to the thing not needed ("cancel build_789")."""
    for i in range(len(words) - 3):
        if words[i : i + 3] != ["do", "not", "need"] or (i and words[i - 1] not in SUBJECTS):
            continue
        for k in range(i + 4, len(words) - 1):
            if (
                v.VERB.get(words[k]) in ("cancel", "pause")
                and words[k + 1] in v.PRONOUNS
                and words[k - 1] not in ("to", "not")
            ):
                thing = [w for w in words[i + 3 : k] if w not in ("any", "more", "anymore",
                         "longer", "now", "no")]  # fmt: skip
                if thing and thing[0] not in ("to", "you"):
                    return [words[k], *thing, *words[k + 2 :]]
        return words
    return words


#: Words that open the reason after a command: "abort the deploy, it's going to the wrong
#: cluster", "shelve the deployment, we'll pick it up after lunch".
_BECAUSE = frozenset({"because", "cause", "coz", "cuz", "since", "as", "otherwise", "so"})
_SAYS = frozenset({"is", "was", "are", "will", "has", "have", "keeps", "seems", "looks", "can",
                   "could", "should", "must", "did", "does", "do", "needs", "went", "got",
                   "broke", "crashed"})  # fmt: skip


def before_reason(rest: list[str]) -> list[str]:
    """A command's words up to the reason given after it: its target is named before."""
    for i, word in enumerate(rest[1:], 1):
        if (
            word in _BECAUSE
            or (
                word in SUBJECTS | {"it", "you"}  # not "that": "the job that is running …"
                and rest[i + 1 : i + 2]
                and rest[i + 1] in _SAYS
            )
        ):
            return rest[:i]
    return rest


#: Verbs a request may be dressed in: "please you make pause to the backup".
_DRESS = frozenset({"make", "do", "give", "put", "perform"})


def plain_verb(words: list[str]) -> list[str]:
    """ "make pause to the backup", "do a cancel of sync_301": the action named as a noun after
    an everyday verb, as the plain command ("pause the backup")."""
    if (
        len(words) > 2
        and words[0] in _DRESS
        and v.VERB.get(words[1] if words[1] not in ("a", "the") else words[2])
        in ("cancel", "pause", "resume")
    ):
        rest = words[1:] if words[1] not in ("a", "the") else words[2:]
        tail = rest[1:]
        if tail[:1] and tail[0] in ("to", "of", "on", "for"):
            tail = tail[1:]
        return [rest[0], *tail]
    return words
