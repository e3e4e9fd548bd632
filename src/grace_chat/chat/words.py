"""The reader's own small words: articles and prepositions it skips when it looks for a target,
words that are never ids, words that may follow a question word, and the like. ``intents``
reads sentences with them; ``vocabulary`` holds the words for Grace's things and verbs.
"""

from __future__ import annotations

#: Words skipped when looking for the task or type a sentence names.
ARTICLES = frozenset({"a", "an", "the", "my", "our", "your", "some", "another", "new", "one",
                      "of", "for", "on", "with", "to", "about", "from", "in", "me", "us",
                      "again", "up", "please", "also", "too", "and", "its"})  # fmt: skip
FINITE = frozenset({"is", "are", "was", "were", "has", "have", "had", "will", "would"})
QUERY_THINGS = ("mission", "healing", "logs", "approval", "learning", "status")
EVENTFUL = frozenset({"happened", "happen", "changed", "change", "occurred"})
NOT_ABOUT = frozenset({"that", "this", "it", "request", "change", "action", "pending",
                       "waiting", "outstanding", "open", "current", "latest"})  # fmt: skip
#: Words that, after a command's verb, name no target ("still", "again") rather than an id.
NOT_IDS = frozenset({"still", "again", "now", "here", "there", "too", "also", "anyway",
                     "please", "first", "next", "instead", "going", "running"})  # fmt: skip
#: Words for "something" that a command may point at and then ask which.
VAGUE = frozenset({"whatever", "whichever", "thing", "things", "stuff", "ones", "inbackground"})
#: A question that only asks again about what was just spoken of ("and now?", "still?").
FOLLOW_UP = frozenset({"and", "now", "what", "about", "still", "so", "yet", "how", "is", "it"})
#: Words that ask which of someone's requests waits ("what does the guardian want?").
WANTS = frozenset({"want", "wants", "asking", "asks", "waiting", "requesting"})
#: Words that may follow "what" / "how" / "which" in a question Grace can answer.
ASKING = frozenset({"happened", "happens", "went", "about", "far", "long", "many", "much",
                    "else", "going", "state", "progress", "kind", "type", "sort", "needs",
                    "need", "left", "pending"})  # fmt: skip
#: Plural nouns of a task: "any sync jobs?" asks for every task of the type, not one.
PLURAL_TASKS = frozenset({"jobs", "tasks", "runs", "processes"})
