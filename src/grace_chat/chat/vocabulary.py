"""What the chat knows: the things Grace runs and the verbs that act on them, with the everyday
words people use for each.

Every word maps to one *concept*: a verb (``cancel``, ``pause``, ``resume``, ``run``, ``show``,
``approve``, ``reject``), a thing (``task``, ``learning``, ``healing``, ``mission``, ``logs``,
``approval``, ``status``), a task state, a recency, or a small word the reader needs (``yes``,
pronouns, question words). Phrases of several words ("put … on hold", "kick off", "turn … back
on") are rewritten to the single word of their concept before words are looked up
(``rewrite``). Task types are not listed here: the runner knows them, and the reader gets them at
parse time.
"""

from __future__ import annotations

VERBS: dict[str, tuple[str, ...]] = {
    "cancel": ("cancel", "stop", "kill", "abort", "terminate", "end", "halt", "scrap", "ditch",
               "drop", "quit", "nuke", "bin", "axe", "scrub"),
    "pause": ("pause", "suspend", "hold", "freeze", "park", "shelve"),
    "resume": ("resume", "continue", "unpause", "unfreeze", "proceed", "restart", "reactivate"),
    "run": ("run", "start", "launch", "begin", "execute", "trigger", "do", "kick", "fire",
            "generate", "make", "create", "perform", "spin", "retry", "rerun"),
    "show": ("show", "list", "display", "see", "view", "get", "give", "tell", "check", "fetch",
             "open", "read", "pull", "tail",
             "provide"),
    "approve": ("approve", "accept", "allow", "confirm", "grant", "permit", "authorize",
                "authorise"),
    "reject": ("reject", "deny", "decline", "refuse", "veto"),
}  # fmt: skip

#: The -ing forms: an action talked about ("would cancelling it lose data?"), never a request.
GERUNDS: dict[str, tuple[str, ...]] = {
    "cancel": ("cancelling", "canceling", "stopping", "killing", "aborting", "terminating"),
    "pause": ("pausing", "suspending", "freezing"),
    "resume": ("resuming", "continuing", "unpausing"),
    "run": ("starting", "launching", "deploying", "triggering"),
    "approve": ("approving", "accepting"),
    "reject": ("rejecting", "denying", "declining"),
}

#: Past forms: an action spoken of as done ("was it cancelled?"), never a request.
PAST: dict[str, tuple[str, ...]] = {
    "cancel": ("cancelled", "canceled", "stopped", "killed", "aborted", "terminated", "ended",
               "halted", "scrapped", "dropped"),
    "pause": ("paused", "suspended", "held", "frozen"),
    "resume": ("resumed", "continued", "restarted", "unpaused"),
    "run": ("ran", "started", "launched", "began", "executed", "triggered", "did", "done"),
    "approve": ("approved", "accepted", "allowed", "granted"),
    "reject": ("rejected", "denied", "declined", "refused"),
    "fail": ("failed", "broke", "broken", "crashed", "errored"),
    "finish": ("finished", "completed", "succeeded", "complete", "successful", "over"),
}  # fmt: skip

THINGS: dict[str, tuple[str, ...]] = {
    "task": ("task", "tasks", "job", "jobs", "work", "process", "processes", "background"),
    "learning": ("learning", "learn", "studying", "study", "studies", "reading", "ingestion",
                 "ingesting", "ingest", "training", "documents", "docs", "supervisor"),
    "healing": ("healing", "heal", "healed", "heals", "healer", "repair", "repairs", "repaired",
                "fix", "fixes", "fixed", "recovery", "recoveries", "recovered", "remediation",
                "fixing", "repairing", "remediations", "rollback", "rollbacks", "incident",
                "incidents"),
    "mission": ("mission", "missions"),
    "logs": ("logs", "log", "logged", "output", "outputs", "print", "printed", "console",
             "transcript"),
    "approval": ("approval", "approvals", "request", "requests", "permission", "permissions"),
    "status": ("status", "overview", "summary", "update", "updates", "situation", "progress",
               "percentage", "percent", "rundown", "lowdown", "recap"),
}  # fmt: skip

STATES: dict[str, tuple[str, ...]] = {
    "failed": ("failed", "failing", "broken", "broke", "crashed", "errored", "failure", "failures",
               "fail",
               "fails", "wrong", "error", "errors"),
    "paused": ("paused", "suspended", "frozen", "onhold"),
    "running": ("running", "ongoing", "live"),
    "active": ("active", "unfinished"),
    "succeeded": ("finished", "completed", "complete", "done", "succeeded", "successful"),
    "cancelled": ("cancelled", "canceled", "killed", "aborted"),
    "queued": ("queued", "waiting"),
}  # fmt: skip

RECENCY: dict[str, tuple[str, ...]] = {
    "latest": ("last", "latest", "newest", "recent", "current"),
    "previous": ("previous", "prior", "earlier", "older", "before"),
    "first": ("first", "oldest"),
}

YES = frozenset({"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "alright", "fine", "goahead",
                 "affirmative", "absolutely", "certainly", "definitely", "k", "kk", "okk", "okey",
                 "oki", "okie", "okidoki"})  # fmt: skip
NO = frozenset({"no", "nope", "nah"})
#: Taking back what was just said: "stop the backup. just kidding".
RETRACT = frozenset({"kidding", "joking", "jk", "jking"})
GREETINGS = frozenset(
    {
        "hello",
        "hi",
        "hey",
        "morning",
        "afternoon",
        "evening",
        "yo",
        "howdy",
        "hiya",
        "heya",
        "hey there",
        "hullo",
        "sup",
        "greetings",
    }
)
THANKS = frozenset({"thanks", "thank", "thx", "cheers", "ty", "ta", "tnx", "tks"})
PLEASED = frozenset({"cool", "great", "nice", "awesome", "perfect", "good", "excellent", "wow"})
#: Sighs and feelings vented: small talk ("ugh, what a day", "i'm so frustrated").
VENTS = frozenset({"ugh", "argh", "sigh", "meh", "phew", "whew", "frustrated", "annoyed",
                   "stressed", "overwhelmed", "annoying", "frustrating", "tired", "exhausted",
                   "bored", "boring", "hate", "grr", "sad", "upset", "fedup"})  # fmt: skip
#: Feelings, apologies and reassurance: small talk ("sorry, my mistake", "you're a lifesaver").
FEELINGS = VENTS | frozenset({"sorry", "apologies", "oops", "noworries", "lifesaver", "hero",
                              "champ", "genius", "rockstar", "gem"})  # fmt: skip
#: Things of software that are also things to be made ("build me a website", "build an app"): a
#: task works on the one that exists ("deploy the website"), never makes a new one.
MADE = frozenset({"app", "apps", "application", "site", "website", "web", "page", "webpage"})
#: The things of software that a task of Grace's works on: "deploy the backend", "back up the
#: database" ask for a task; "build a snowman" does not.
SYSTEM = MADE | frozenset({"backend", "frontend", "api", "service",
                    "services", "server", "servers", "database",
                    "databases", "db", "repo", "repository", "code", "codebase", "branch", "main",
                    "master", "release", "image", "images", "container", "containers", "cluster",
                    "staging", "production", "prod", "project", "data", "files", "pipeline",
                    "environment", "env", "dev", "changes", "version", "package", "packages",
                    "artifact", "artifacts", "bundle", "module", "modules", "stack", "system",
                    "config", "configuration", "schema", "docs", "binaries", "binary", "cache",
                    "index", "storage", "disk", "volume", "bucket", "mirror",
                    "replica", "docker", "kubernetes", "k8s"})  # fmt: skip
PRONOUNS = frozenset({"it", "that", "this", "them", "those", "its", "one"})
ALL = frozenset({"all", "everything", "every", "each", "both"})
QUESTION = frozenset({"what", "which", "how", "why", "when", "where", "who", "whose"})
AUX = frozenset({"is", "are", "was", "were", "did", "does", "do", "has", "have", "had", "will",
                 "can", "could", "would", "should", "shall", "may", "might"})  # fmt: skip
ANY = frozenset({"any", "anything", "something", "anyone", "there"})
NEGATIONS = frozenset({"not", "never", "no", "nothing"})

#: Words of several parts, rewritten to one word before anything else: (words, replacement).
PHRASES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (tuple(a.split()), tuple(b.split()))
    for a, b in (
        ("never mind", "nevermind"), ("forget it", "nevermind"), ("forget about it", "nevermind"),
        ("no need to", "not"), ("no need", "not"),
        ("hold on", ""), ("hang on", ""),
        ("hold off on", "pause"), ("hold off", "pause"),
        ("kick off", "run"), ("kick-off", "run"), ("kicked off", "started"),
        ("fired off", "started"), ("spun up", "started"), ("still going", "running"),
        ("make sure", "ensure"), ("config change", "config approval"),
        ("configuration change", "config approval"), ("whatever happened", "what happened"),
        ("kicking off", "starting"), ("forget about", "do not"), ("look at", "see"),
        ("have a look at", "see"),
        ("take a look at", "see"), ("rolled back", "healed"), ("roll back", "rollback"),
        ("been rolled back", "been healed"), ("do me a favour and", ""), ("do me a favor and", ""),
        ("proceed with the approval of", "approve"), ("proceed with the approval", "approve"),
        ("automatic restart", "healing"), ("automatic restarts", "healing"),
        ("auto restart", "healing"), ("auto restarts", "healing"), ("fire off", "run"),
        ("spin up", "run"), ("start up", "run"),
        ("call off", "cancel"), ("carry on with", "resume"), ("carry on", "resume"),
        ("go on with", "resume"), ("keep going with", "resume"),
        ("take a break from", "pause"), ("take a break", "pause"),
        ("back up", "backup"), ("sign off on", "approve"), ("sign off", "approve"),
        ("green light", "approve"), ("go ahead and", ""), ("go ahead", "goahead"),
        ("do it", "goahead"), ("go for it", "goahead"), ("okey dokey", "ok"),
        ("oki doki", "ok"), ("okie dokie", "ok"),
        ("sounds good", "goahead"),
        ("self heal", "healing"), ("self healing", "healing"), ("auto heal", "healing"),
        ("auto healing", "healing"), ("auto healed", "healing"), ("self heals", "healing"),
        ("in the background", "inbackground"), ("in background", "inbackground"),
        ("background tasks", "tasks"),
        ("background task", "task"), ("background jobs", "jobs"), ("background job", "job"),
        ("work in progress", "tasks"), ("in progress", "running"), ("on hold", "onhold"),
        ("status report", "status"), ("system status", "status"),
        ("almost done", "done"), ("nearly done", "done"), ("almost finished", "finished"),
        ("nearly finished", "finished"), ("almost complete", "complete"),
        ("nearly complete", "complete"), ("want that you", "want you to"),
        ("would like that you", "would like you to"), ("most recent", "latest"),
        ("one before", "previous"),
        ("learning supervisor", "learning"), ("learning jobs", "learning"),
        ("learning tasks", "learning"), ("what is up", "status"),
        ("what is going on", "status"), ("what is happening", "status"),
        ("what is new", "status"), ("how is everything going", "status"),
        ("how is everything", "status"), ("how are things going", "status"),
        ("how are things", "status"), ("how is it going", "status"), ("up to", "doing"),
        ("working on", "doing"), ("busy with", "doing"),
        ("waiting for my approval", "approvals"), ("waiting on my approval", "approvals"),
        ("waiting on me", "approvals"), ("waiting for me", "approvals"),
        ("needs my approval", "approvals"), ("need my approval", "approvals"),
        ("pending approvals", "approvals"), ("pending approval", "approval"),
        ("anything going on", "status"), ("anything happening", "status"),
        ("something going on", "status"), ("are you waiting on", "approvals"),
        ("are you waiting for", "approvals"), ("turn down", "reject"), ("say no to", "reject"),
        ("shoot down", "reject"), ("say yes to", "approve"),
        # everyday idioms for the verbs
        ("get rid of", "cancel"), ("put a stop to", "cancel"), ("put an end to", "cancel"),
        ("shut down", "cancel"), ("go ahead with", "approve"),
        ("keep learning", "resume learning"), ("keep studying", "resume learning"),
        ("study again", "resume learning"), ("learn again", "resume learning"),
        # how things are going, asked loosely
        ("how is it all going", "status"), ("how is it all looking", "status"),
        ("how is everything looking", "status"), ("how are we doing", "status"),
        ("how are we looking", "status"), ("how is it looking", "status"),
        ("what is the latest", "status"), ("any news", "status"), ("what is the news", "status"),
        ("anything i should know", "status"), ("anything i need to know", "status"),
        ("what did i miss", "status"), ("anything i missed", "status"),
        ("did i miss anything", "status"), ("catch me up", "status"), ("fill me in", "status"),
        ("bring me up to speed", "status"), ("on your plate", "you doing"),
        ("to sign", "to approve"),
        ("what has been happening", "status"), ("what has been going on", "status"),
        ("what is been happening", "status"), ("what is been going on", "status"),
        ("anything i should worry about", "status"), ("anything to worry about", "status"),
        ("anything i should know about", "status"), ("do i need to", "do i have to"),
        ("do we need to", "do we have to"), ("go on", "goahead"), ("everything ok", "status"),
        ("everything okay", "status"), ("everything fine", "status"),
        ("everything good", "status"), ("everything alright", "status"),
        ("anything new", "status"), ("what else is new", "status"),
        # small talk of several words
        ("how are you doing", "howareyou"), ("how are you", "howareyou"),
        ("how do you do", "howareyou"), ("who are you", "whoareyou"), ("got it", "gotit"),
        ("see you", "bye"),
        ("see ya", "bye"), ("that is all", "bye"), ("that will be all", "bye"),
        ("talk later", "bye"), ("a lot", ""), ("nice work", "nice"), ("good work", "nice"),
        ("great work", "nice"), ("nice job", "nice"), ("good job", "nice"),
        ("great job", "nice"), ("well done", "nice"),
    )
) + tuple(  # learning switched off and on: "no more studying", "go back to learning"
    ((*lead.split(), word), (verb, word))
    for word in ("learning", "studying", "study", "reading", "ingesting", "ingestion", "training")
    for lead, verb in (("no more", "pause"), ("enough", "pause"), ("go back to", "resume"),
                       ("get back to", "resume"), ("back to", "resume"))
)  # fmt: skip


#: Small talk of several words, rewritten like ``PHRASES``; their words are everyday English and
#: never the target of a spelling correction ("touch" is not "tough").
TALK: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    tuple(
        (tuple(a.split()), tuple(b.split()))
        for a, b in (
            ("no worries", "noworries"),
            ("no problem", "noworries"),
            ("no prob", "noworries"),
            ("not a problem", "noworries"),
            ("fair enough", "noworries"),
            ("all good", "noworries"),
            ("my bad", "sorry"),
            ("my mistake", "sorry"),
            ("my fault", "sorry"),
            ("i am sorry", "sorry"),
            ("so sorry", "sorry"),
            ("that is fair", "noworries"),
            ("fair point", "noworries"),
            ("fed up", "fedup"),
            ("taking forever", "ugh"),
            ("takes forever", "ugh"),
            # acknowledgements: like a bare "ok" ("sure thing", "sounds good", "fine by me")
            ("sure thing", "ok"),
            ("sounds great", "ok"),
            ("sounds fine", "ok"),
            ("sounds right", "ok"),
            ("fine by me", "ok"),
            ("fine with me", "ok"),
            ("works for me", "ok"),
            ("that works", "ok"),
            ("of course", "ok"),
            ("okey dokey", "ok"),
            ("all right", "ok"),
            # farewells: "talk to you tomorrow", "catch you later", "speak soon"
            ("talk to you", "bye"),
            ("speak to you", "bye"),
            ("catch you", "bye"),
            ("talk soon", "bye"),
            ("speak soon", "bye"),
            ("see ya", "bye"),
            ("until next time", "bye"),
            ("got to go", "bye"),
            ("have to go", "bye"),
            ("brb", "bye"),
            ("be right back", "bye"),
            ("have a good one", "bye"),
        )
    )
    + tuple(  # "how is your day going?", "what a week"
        ((*lead.split()[:3], time, *lead.split()[3:]), (said,))
        for time in ("day", "week", "morning", "afternoon", "evening", "weekend", "night")
        for lead, said in (
            ("how is your", "howareyou"),
            ("how was your", "howareyou"),
            ("how has your", "howareyou"),
            ("how is your going", "howareyou"),
            ("how has your been", "howareyou"),
            ("what a", "ugh"),
            ("long", "ugh"),
            ("rough", "ugh"),
            ("tough", "ugh"),
            ("hard", "ugh"),
            ("busy", "ugh"),
        )
    )
)

#: Verbs whose object sits between them and their particle: "put the backup on hold".
SPLIT: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("put", ("on", "hold"), "pause"),
    ("pop", ("on", "hold"), "pause"),
    ("stick", ("on", "hold"), "pause"),
    ("throw", ("on", "hold"), "pause"),
    ("get", ("moving", "again"), "resume"),
    ("get", ("going", "again"), "resume"),
    ("place", ("on", "hold"), "pause"),
    ("put", ("on", "pause"), "pause"),
    ("start", ("back", "up"), "resume"),
    ("fire", ("back", "up"), "resume"),
    ("bring", ("back",), "resume"),
    ("turn", ("back", "on"), "resume"),
    ("switch", ("back", "on"), "resume"),
    ("turn", ("on", "again"), "resume"),
    ("switch", ("on", "again"), "resume"),
    ("turn", ("on",), "resume"),
    ("switch", ("on",), "resume"),
    ("turn", ("off",), "pause"),
    ("switch", ("off",), "pause"),
    ("get", ("going", "again"), "resume"),
    ("get", ("going",), "resume"),
    ("pick", ("back", "up"), "resume"),
    ("let", ("continue",), "resume"),
    ("let", ("resume",), "resume"),
    ("let", ("carry", "on"), "resume"),
    ("let", ("finish",), "resume"),
)


def _split(words: str) -> list[str]:
    return words.split()


def _index(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {word: concept for concept, words in table.items() for word in words}


VERB = _index(VERBS)
PAST_VERB = _index(PAST)
GERUND = _index(GERUNDS)
THING = _index(THINGS)
STATE = _index(STATES)
RECENT = _index(RECENCY)

#: Words never taken for a typo of something else (short common words of English and the
#: reader's own small words).
COMMON = frozenset(
    _split(
        """
        a an the to of for on in at by with from about into over after before and or but if then
        so as is are was were be been being am i me my mine you your yours we our us he she they
        them their it its this that these those there here what which who whom whose why how
        when where do does did done doing have has had having can could would should will shall
        may might must not no yes all any some each every more most much many few new old now
        just again still yet also too very really please thanks thank ok okay well hi hey hello
        bye good great nice cool fine sure right left up down out off back away today tomorrow
        yesterday lately ago time times day days week music meeting manager weather joke love
        like want need know think wonder say said tell told ask asked go going went come came
        make made take took let put keep kept leave left set use used try tried help fun
        important mistake wrote write script everything anything something nothing lose data
        safe happen happens happened would what then one two three step steps stuff thing things
        way people person project team file files code test tests plan plans letus
        """
    )
)


#: Everyday words of English that are a letter or two from a word of Grace's ("world" is not
#: "would", "writing" is not "waiting", "pose" is not "pause"): never taken for typos.
ORDINARY = frozenset(
    _split(
        """
        world word words worth worse works worked working writing written wait waited wanting
        band bank bend bind bond sing sang song king ring bring thing think thinking thought
        talking walking waking making baking taking looking cooking booking reading rating
        dating eating seating heating meeting setting getting letting sitting hitting fitting
        pose post past paste pass passed pace cause cases case chase phase raise praise
        rescue consume assume assumes summer number lumber
        stock stuck stay star stars start started starts store story storm stone
        kids kill kills bill fill hill mill pill till will wall tall ball call fall hall
        lunch launch bunch punch munch brunch dinner breakfast coffee tea water food
        sink link pink wink drink think thank tank rank
        bug bugs hug mug rug jug plug plugs drug
        life wife knife live love move movie movies film films book books game games play
        played player music musical art party car cars bus train plane trip travel
        house home room door floor window garden park parks street road city town country
        photo photos picture pictures pics video videos songs playlist calendar contacts
        notes thoughts kids
        money price prices cost costs pay paid buy bought sell sold shop shopping store
        phone phones email emails message messages letter letters paper news
        dog dogs cat cats bird birds fish horse animal animals tree trees flower flowers
        school class classes lesson lessons teacher student exam exams homework
        doctor dentist appointment appointments gym membership vacation holiday holidays
        weekend morning evening night tonight yesterday week month year years
        happy sad angry tired bored hungry sick busy free ready sorry
        friend friends family mother father mom dad brother sister son daughter wife husband
        boss colleague colleagues neighbour neighbor
        mate mates pal pals buddy bro dude folks guys lads
        expense expenses invoice invoices timesheet timesheets budget budgets invite invites
        ticket tickets order orders leave
        """
    )
)


def known_words(task_types: tuple[str, ...] = ()) -> frozenset[str]:
    """Every word the reader understands, for spelling correction."""
    words: set[str] = (
        set(VERB) | set(PAST_VERB) | set(GERUND) | set(THING) | set(STATE) | set(RECENT)
    )
    words |= YES | NO | GREETINGS | THANKS | PLEASED | PRONOUNS | ALL | QUESTION | AUX | ANY
    words |= NEGATIONS
    words |= {w for phrase, _ in PHRASES for w in phrase}
    words |= {w for verb, tail, _ in SPLIT for w in (verb, *tail)}
    words |= set(task_types)
    return frozenset(words)


_EVERYONE = frozenset({"everyone", "everybody", "everyones", "everybodys", "everyone's",
                       "everybody's"})  # fmt: skip


def everyone(words: list[str]) -> bool:
    """Whether the words name everyone ("for everyone", "for all users", "everybody's")."""
    return bool(_EVERYONE.intersection(words)) or (
        "all" in words and bool({"users", "people", "user"}.intersection(words))
    )
