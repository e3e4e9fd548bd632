"""The first layer: a sentence as the words that matter.

``normalize`` lowercases, straightens quotes, expands contractions ("don't" → "do not", "what's"
→ "what is", "the deployment's logs" → "the deployment logs"), splits words while keeping ids
whole (``deploy_456``, ``backup.nightly``), rewrites phrases of several words to the one word of
their concept (``vocabulary.PHRASES``, ``vocabulary.SPLIT``), drops filler and politeness
("please", "could you", "right away", "for a bit", a leading "ok" or "Grace,") and corrects small
typos against the known vocabulary (never a common word of English: ``english``). It
remembers whether the sentence was asked as a question and
which words it corrected: a corrected verb makes a command uncertain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from grace_chat.chat import vocabulary as v
from grace_chat.chat.english import ENGLISH


@dataclass(frozen=True, slots=True)
class Text:
    #: The words that matter, in order.
    words: tuple[str, ...]
    #: Every word, before filler and politeness were dropped (small talk is made of those).
    said: tuple[str, ...]
    #: Ended with a question mark.
    asked: bool
    #: Words that are spelling corrections (the corrected form).
    corrected: frozenset[str]

    def __contains__(self, word: object) -> bool:
        return word in self.words


_CONTRACTIONS = {
    "don't": "do not", "dont": "do not", "doesn't": "does not", "doesnt": "does not",
    "didn't": "did not", "didnt": "did not", "can't": "can not", "cant": "can not",
    "cannot": "can not", "won't": "will not", "wouldn't": "would not", "wouldnt": "would not",
    "shouldn't": "should not", "shouldnt": "should not", "isn't": "is not", "isnt": "is not",
    "aren't": "are not", "arent": "are not", "wasn't": "was not", "wasnt": "was not",
    "haven't": "have not", "havent": "have not", "hasn't": "has not", "hasnt": "has not",
    "what's": "what is", "whats": "what is", "how's": "how is", "hows": "how is",
    "where's": "where is", "who's": "who is", "that's": "that is", "thats": "that is",
    "there's": "there is", "theres": "there is", "it's": "it is", "let's": "letus",
    "i'm": "i am", "i'd": "i would", "i've": "i have",
    "i'll": "i will", "you're": "you are", "we're": "we are", "they're": "they are",
    "you've": "you have", "we'd": "we would", "you'd": "you would",
    "wanna": "want to", "gonna": "going to", "gotta": "got to", "lemme": "let me",
    "teh": "the", "wat": "what", "wht": "what", "plese": "please", "pleas": "please",
    "pleasee": "please", "pleaseee": "please", "thnx": "thanks", "thnks": "thanks",
    "u": "you", "ur": "your", "ya": "you", "wats": "what is", "wat's": "what is",
    "bkp": "backup", "bkup": "backup", "cna": "can", "yuo": "you", "hte": "the",
    "waht": "what", "jsut": "just", "pelase": "please", "plase": "please",
    "nvm": "never mind", "gimme": "give me",
    "that'll": "that will", "it'll": "it will", "we'll": "we will", "you'll": "you will",
    "there'll": "there will", "that'd": "that would", "it'd": "it would",
}  # fmt: skip

#: Dropped wherever they stand (longest first).
_FILLER = sorted(
    (
        tuple(p.split())
        for p in (
            "please", "pls", "plz", "kindly", "just", "right now", "right away", "now",
            "as soon as possible", "asap", "immediately", "straight away", "for me", "for now",
            "for a bit", "for a while", "for a moment", "for a minute", "for a second",
            "for the moment", "for the time being", "for today", "at the moment", "today",
            "lately", "recently", "so far", "yet", "thanks", "thank you", "thank you so much",
            "if you can", "if possible", "when you can", "real quick", "quickly", "then",
            "could you", "can you", "would you", "will you", "can we", "could we",
            "would you mind", "do you mind", "be so kind as to", "be kind enough to",
            "really",
            "i want you to", "i would like you to", "i need you to", "i would like to",
            "i want to", "i would love to", "let me", "you can", "you may", "you should",
            "i want", "i need", "i would like", "i would love",
            "be a dear and", "mind", "currently", "already", "actually", "so much", "letus",
            "possibly", "perhaps", "maybe", "kindly", "simply", "rn", "when you get a chance",
            "if you would", "if you could", "at once", "while you are at it", "go and",
            "let us", "by the way", "quick one", "quick question", "would it be possible to",
            "would it be possible for you to", "is it possible for you to",
            "i would be grateful if you could", "i would appreciate it if you could",
            "i would appreciate it if you would", "i would appreciate if you could",
            "it would be great if you could", "it would be nice if you could",
            "you know what", "until further notice", "do the needful and", "i would rather",
            "i would prefer to",
            "i would prefer", "i prefer to", "when you get a sec",
            "when you get a second", "when you have a sec", "when you have a second",
            "when you have a moment", "when you have a minute", "whenever you can",
            "when you get a moment", "when you get a minute",
        )
    ),
    key=len,
    reverse=True,
)  # fmt: skip
#: Dropped from the start of a sentence when something follows them.
_LEAD = frozenset({"grace", "hey", "hi", "hello", "ok", "okay", "so", "well", "alright", "um",
                   "uh", "oh", "and", "also", "right", "yo", "wait", "hmm", "ah", "oops", "er",
                   "erm", "howareyou", "hiya", "heya", "cool", "great", "nice", "anyway",
                   "anyways", "btw", "honestly", "seriously", "basically", "literally",
                   "omg", "ugh", "argh", "urgh", "sigh", "ffs"})  # fmt: skip

#: Words written with a hyphen as often as without.
_JOINED = v.known_words()

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?(?:[_.:\-][a-z0-9]+)*")


def is_id(word: str) -> bool:
    """Looks like an id (``deploy_456``, ``appr_7f3a9c``, ``backup.nightly``): has a digit, an
    underscore, or a dot / colon between letters; never a time ("2:30", "8pm"), a number or a
    version ("2.1.0", "v3")."""
    if _NOT_ID.fullmatch(word):
        return False
    return bool(re.search(r"\d|_|[a-z][.:][a-z]", word))


_NOT_ID = re.compile(
    r"\d{1,2}(?::\d{2}){1,2}(?:am|pm)?|\d{1,2}(?:am|pm)|v?\d+(?:[.,]\d+)*(?:%|s|st|nd|rd|th)?"
)


#: Emoji that stand for a word.
_EMOJI = {"👍": " ok ", "👌": " ok ", "✅": " ok ", "🙏": " please ", "👋": " hi "}


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("’", "'").replace("‘", "'")
    for emoji, word in _EMOJI.items():
        text = text.replace(emoji, word)
    words: list[str] = []
    for raw in _WORD.findall(text):
        if raw in _CONTRACTIONS:
            words.extend(_CONTRACTIONS[raw].split())
        elif raw.endswith(("'s", "s'")) or raw.endswith("'"):
            words.append(raw.split("'")[0])
        elif "'" in raw:
            words.append(raw.replace("'", ""))
        elif "-" in raw and raw.replace("-", "") in _JOINED:
            words.append(raw.replace("-", ""))  # "un-pause", "re-start"
        elif "-" in raw and not is_id(raw.replace("-", "")) and "_" not in raw:
            words.extend(part for part in raw.split("-") if part)
        else:
            words.append(raw)
    return words


def _replace(words: list[str], table: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for phrase, replacement in table:
            if tuple(words[i : i + len(phrase)]) == phrase:
                out.extend(w for w in replacement if w)
                i += len(phrase)
                break
        else:
            out.append(words[i])
            i += 1
    return out


_PHRASES = sorted(v.PHRASES + v.TALK, key=lambda p: len(p[0]), reverse=True)


_NEW = (["a"], ["an"], ["another"], ["new"])


#: "hold off on cancelling the sync": an action put off is an action not to be done.
_PUT_OFF = (("hold", "off", "on"), ("hold", "off"), ("put", "off"), ("hold", "back", "from"),
            ("hold", "back", "on"), ("holding", "off", "on"), ("holding", "off"))  # fmt: skip
_GERUND = {g: verb for verb, forms in v.GERUNDS.items() for g in forms}


def _put_off(words: list[str]) -> list[str]:
    """ "hold off on cancelling the sync" → "do not cancel the sync"."""
    for i in range(len(words)):
        for phrase in _PUT_OFF:
            j = i + len(phrase)
            if tuple(words[i:j]) == phrase and j < len(words) and words[j] in _GERUND:
                return [*words[:i], "do", "not", _GERUND[words[j]], *words[j + 1 :]]
    return words


def _split_verbs(words: list[str]) -> list[str]:
    """ "put the backup on hold" → "pause the backup"; "turn learning back on" → "resume
    learning"."""
    for verb, tail, concept in v.SPLIT:
        for i, word in enumerate(words):
            if word != verb:
                continue
            for j in range(i + 1, min(len(words), i + 6)):
                if tuple(words[j : j + len(tail)]) == tail:
                    if concept == "resume" and words[i + 1 : i + 2] in _NEW:
                        concept = "run"  # "get a backup going" starts one
                    return _split_verbs([*words[:i], concept, *words[i + 1 : j],
                                         *words[j + len(tail) :]])  # fmt: skip
    return words


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from ``a`` to ``b``."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


@lru_cache(maxsize=64)
def _vocabulary(task_types: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    targets = v.known_words(task_types) | {"doing", "going", "happening", "happened"}
    talk = {w for phrase, _ in v.TALK for w in phrase}
    return targets | v.COMMON | v.ORDINARY | v.SYSTEM | v.FEELINGS | ENGLISH | talk, tuple(
        sorted(w for w in targets if len(w) >= 4)
    )


def _correct(word: str, task_types: tuple[str, ...]) -> str | None:
    found = _nearest(word, task_types)
    single = re.sub(r"(.)\1+", r"\1", word)  # "aproove", "cancell": a letter typed twice
    known = _vocabulary(task_types)[0]
    if found is None and single != word and word not in known and len(single) >= 5:
        found = single if single in known else _nearest(single, task_types)
    return found


def _nearest(word: str, task_types: tuple[str, ...]) -> str | None:
    known, ordered = _vocabulary(task_types)
    if word in known or len(word) < 3 or not word.isalpha():
        return None
    if len(word) == 3:  # "shw", "lst": only the verbs and things, same first letter
        short = [w for w in (*v.VERB, *v.THING) if len(w) == 4 and w[0] == word[0]
                 and distance(word, w) == 1]  # fmt: skip
        return short[0] if len(short) == 1 else None
    if word.endswith("s") and (word[:-1] in known or word[:-2] in known):
        return None
    limit = 1 if len(word) <= 7 else 2
    best: list[tuple[int, str]] = []
    for candidate in ordered:
        if abs(len(candidate) - len(word)) > limit or (candidate[0] != word[0] and limit == 1):
            continue
        if abs(len(candidate) - len(word)) > 1 and (
            word.startswith(candidate) or candidate.startswith(word)
        ):
            continue  # another word, not a typo: "backup" is not "back"
        d = distance(word, candidate)
        if d <= limit:
            best.append((d, candidate))
    if not best:
        return None
    best.sort()
    tied = [c for d, c in best if d == best[0][0]]
    if len(tied) > 1 and len({_concept(c) for c in tied}) > 1:
        return None  # two words of different meaning are as near: no guess
    return best[0][1]


def _concept(word: str) -> str:
    """What a known word stands for ("failure", "failures": the failed state)."""
    for kind, table in (("verb", v.VERB), ("past", v.PAST_VERB), ("gerund", v.GERUND),
                        ("thing", v.THING), ("state", v.STATE), ("recent", v.RECENT)):  # fmt: skip
        if word in table:
            return f"{kind}:{table[word]}"
    return word


def normalize(text: str, task_types: tuple[str, ...] = ()) -> Text:
    asked = text.strip().endswith("?")
    said = _tokens(text)
    corrected: set[str] = set()
    fixed: list[str] = []
    for word in said:
        better = _correct(word, task_types)
        if better is not None:
            corrected.add(better)
        fixed.append(better or word)
    words = _replace(_split_verbs(_put_off(fixed)), _PHRASES)
    for _ in range(2):  # twice: "i really need you to" is filler once "really" is gone
        words = _replace(words, [(phrase, ()) for phrase in _FILLER])
    while len(words) > 1 and words[0] in _LEAD:
        words = words[1:]
    while len(words) > 1 and words[-1] in ("grace", "mate", "buddy", "pal"):
        words = words[:-1]  # "how's it going grace": Grace addressed, not named
    if words == ["grace"]:
        words = []
    return Text(tuple(words), tuple(fixed), asked, frozenset(corrected))
