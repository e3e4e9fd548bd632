"""Sentence → intent, deterministically.

``parse`` normalizes a sentence (case, punctuation, politeness: "please", "could you", "for now",
"Grace, …") and matches it against a table of patterns per intent. It never guesses: a sentence
that matches nothing gives ``None``, and a sentence that negates a destructive request ("don't
cancel task_1") gives the ``declined`` intent, so no action is taken. Destructive intents carry
exactly the id they act on, or none (then the chat asks which).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DESTRUCTIVE = frozenset(
    {"cancel_task", "pause_task", "resume_task", "approve", "reject", "run_task",
     "pause_learning", "resume_learning"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    args: dict[str, str] = field(default_factory=dict)


_POLITE = re.compile(
    r"\b(please|pls|kindly|could you|can you|would you|will you|would you mind|i want you to|"
    r"i'd like you to|i would like you to|go ahead and|for now|for me|right now|thanks|"
    r"thank you|just)\b"
)
_LEAD = re.compile(r"^(hey |hi |ok |okay |so )?(grace[,:]?\s+)?")
_NEGATION = re.compile(r"\b(don'?t|do not|never|not|no need to|stop asking)\b")
_ID = r"(?P<id>[a-z0-9][\w.:-]*)"
_VERB_CANCEL = r"(?:cancel|stop|kill|abort|terminate|end|halt)"
_VERB_PAUSE = r"(?:pause|suspend|hold|freeze)"
_VERB_RESUME = r"(?:resume|continue|unpause|unfreeze|restart)"
#: "... for everyone": the learning intents then carry ``everyone`` (everyone's gate, admins).
_EVERYONE = r"(?P<everyone>for (everyone|everybody|all users|all))"
_EVERYONES = r"(?P<everyone>everyone'?s|everybody'?s|all users'?|all user)"
_SHOW = r"(?:show|list|display|see|view|get|give|tell)(?: me)?(?: (?:the|all|my|all the|our))?"

PATTERNS: list[tuple[str, list[str]]] = [
    ("help", [r"^(help|what can you do|what can i (say|ask)|commands|\?)$"]),
    (
        "status",
        [
            r"^what'?s? (is )?(grace|you) (doing|up to|working on)$",
            r"^what (is|are) (grace|you) (doing|up to|working on)$",
            r"^(status|system status|grace status)$",
            r"^(what'?s|what is) (going on|happening)$",
            r"^how are things( going)?$",
            r"^are you busy$",
            r"^(give me )?(a |the )?status (update|report)$",
        ],
    ),
    (
        "list_tasks",
        [
            rf"^{_SHOW}( (active|running|current|background|ongoing))* (tasks|jobs)$",
            r"^(what'?s|what is|what are) (running|in progress)$",
            r"^(which|what) (tasks|jobs) are (running|active)$",
            r"^(are there )?any (tasks|jobs) running$",
            r"^(background|active|running) (tasks|jobs)$",
            r"^tasks$",
        ],
    ),
    (
        "cancel_task",
        [
            rf"^{_VERB_CANCEL} (the )?(task|job) {_ID}$",
            rf"^{_VERB_CANCEL} (?P<id>(task|job)_[\w.:-]+)$",
            rf"^{_VERB_CANCEL} (the )?(task|job)$",
        ],
    ),
    (
        "pause_task",
        [
            rf"^{_VERB_PAUSE} (the )?(task|job) {_ID}$",
            rf"^{_VERB_PAUSE} (?P<id>(task|job)_[\w.:-]+)$",
            rf"^{_VERB_PAUSE} (the )?(task|job)$",
        ],
    ),
    (
        "resume_task",
        [
            rf"^{_VERB_RESUME} (the )?(task|job) {_ID}$",
            rf"^{_VERB_RESUME} (?P<id>(task|job)_[\w.:-]+)$",
            rf"^{_VERB_RESUME} (the )?(task|job)$",
        ],
    ),
    (
        "pause_learning",
        [
            rf"^({_VERB_PAUSE}|stop|halt)( all)?( the)? learning( jobs| tasks)?$",
            r"^(no more|stop) learning$",
            rf"^({_VERB_PAUSE}|stop|halt)( all)?( the)? learning( jobs| tasks)? {_EVERYONE}$",
            rf"^({_VERB_PAUSE}|stop|halt) {_EVERYONES} learning( jobs| tasks)?$",
        ],
    ),
    (
        "resume_learning",
        [
            rf"^({_VERB_RESUME}|start)( the)? learning( jobs| tasks)?( again)?$",
            r"^(start|keep) learning( again)?$",
            rf"^({_VERB_RESUME}|start)( the)? learning( jobs| tasks)?( again)? {_EVERYONE}$",
            rf"^({_VERB_RESUME}|start) {_EVERYONES} learning( jobs| tasks)?( again)?$",
        ],
    ),
    (
        "healing",
        [
            rf"^{_SHOW}( recent| latest)? (self[- ]?)?heal(ing)?"
            r"( attempts| logs| history| actions| runs)?$",
            r"^what (did|has) (self[- ]?heal(ing)?|the healer) (do|done)$",
            r"^(self[- ]?)?healing (attempts|history|status)$",
        ],
    ),
    (
        "missions",
        [
            rf"^{_SHOW}( (active|current|running|ongoing))? missions$",
            r"^(what|which) missions are (running|active|in progress)$",
            r"^missions$",
        ],
    ),
    (
        "task_logs",
        [
            rf"^{_SHOW} logs? (of|for) (the )?(task |job )?{_ID}$",
            rf"^{_SHOW} (?P<what>[a-z][\w-]*) (logs?|output)$",
        ],
    ),
    (
        "run_task",
        [
            r"^(run|start|launch|kick off|begin|execute|do|trigger) (a |an |the )?"
            r"(?P<what>[a-z][\w-]*)( task| job)?( (?P<rest>[\w .-]+?))? in the background$",
            r"^(?P<what>[a-z][\w-]*)( (?P<rest>[\w .-]+?))? in the background$",
        ],
    ),
    (
        "approve",
        [
            r"^(approve|accept|allow|ok|yes|go ahead)"
            r"( it| that| this| the (request|action|approval))?( (?P<id>appr_[\w-]+))?$",
            r"^(yes,? )?(approve|accept) (?P<id>appr_[\w-]+)$",
        ],
    ),
    (
        "reject",
        [
            r"^(reject|deny|decline|refuse|no)( it| that| this| the (request|action|approval))?"
            r"( (?P<id>appr_[\w-]+))?$",
        ],
    ),
]
_COMPILED = [(name, [re.compile(p) for p in patterns]) for name, patterns in PATTERNS]


def normalize(text: str) -> str:
    t = text.strip().lower()
    t = t.replace("’", "'")
    t = _LEAD.sub("", t)
    t = _POLITE.sub(" ", t)
    t = re.sub(r"[!?.;,]+(\s|$)", " ", t)
    t = re.sub(r"[\"“”()]", " ", t)
    return re.sub(r"\s+", " ", t).strip()


_HELP = re.compile(r"^\s*(grace,?\s+)?what (can|do) (you|i) (do|say|ask)\s*\??\s*$")


def parse(text: str) -> Intent | None:
    if _HELP.match(text.lower()):
        return Intent("help")
    t = normalize(text)
    if not t:
        return None
    negated = bool(_NEGATION.search(t))
    for name, patterns in _COMPILED:
        for pattern in patterns:
            match = pattern.match(_NEGATION.sub(" ", t).strip() if negated else t)
            if match is None:
                continue
            if negated and name in DESTRUCTIVE:
                return Intent("declined", {"intent": name})
            if negated:
                return None
            args = {k: v.strip() for k, v in match.groupdict().items() if v}
            return Intent(name, args)
    return None
