"""Protocol fuzzing, on both stream drivers: whatever a client sends, it gets a documented answer.

Frames are drawn from the protocol's own command models (``grace_chat.protocol.COMMANDS``, through
their JSON Schema): valid commands, the same with a field's type or value changed, with extra
fields, with huge strings or deep nesting, and raw text and binary frames. Properties:

* after hello, every frame gets exactly one reply: the command's reply frame, or an ``error``
  with a documented code other than ``internal``; or, for a message over the size limit, a
  documented close code. A ``ping`` sent next is answered, so the server is still serving;
* before hello, every first frame gets ``welcome`` or an ``error`` and a documented close code;
* nothing the server keeps grows with what was sent (tracemalloc, over the whole run).

Hypothesis drives a synchronous client; the server runs on its own event loop in a thread.
Bounded: each test has ``max_examples`` and a per-example deadline (the module takes about
half a minute); ``GRACE_FUZZ_EXAMPLES`` raises the count for a longer run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from grace_chat.config import Settings
from grace_chat.errors import ErrorCode
from grace_chat.protocol import COMMANDS, CONTROL_FRAME_TYPES, MAX_CLOSE_REASON_BYTES, CloseCode
from tests.support import Running, serve

EXAMPLES = int(os.environ.get("GRACE_FUZZ_EXAMPLES", "0")) or None
#: Error codes a client may be sent: every documented one but ``internal`` (a server bug).
DOCUMENTED_ERRORS = {c.value for c in ErrorCode} - {ErrorCode.INTERNAL.value}
DOCUMENTED_CLOSES = {c.value for c in CloseCode} - {CloseCode.INTERNAL_ERROR.value}
#: The reply frame of each command when it succeeds.
REPLIES = {
    "ping": "pong",
    "ack": "acked",
    "mark_read": "read",
    "list_tasks": "task_list",
    "start_task": "task",
    "cancel_task": "task",
    "pause_task": "task",
    "resume_task": "task",
    "task_logs": "task_logs",
    "pause_learning": "learning",
    "resume_learning": "learning",
    "approve": "approval",
    "reject": "approval",
    "status": "status",
    "chat": "chat_reply",
    "hello": "error",  # a second hello is a conflict
}
#: Memory the server may still hold after a run: its log's caches and such, not what was sent.
RETAINED_AT_MOST = 256 * 1024
MAX_COMMAND_BYTES = 4_096
MAX_MESSAGE_BYTES = 64 * 1024


# -- the server, on its own loop ------------------------------------------------------------


class ServerThread:
    """``tests.support.serve`` on an event loop of its own, for a synchronous client."""

    def __init__(self, settings: Settings, plain_asgi: bool) -> None:
        self._settings = settings
        self._plain_asgi = plain_asgi
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="grace-fuzz-server", daemon=True)
        self.running: Running | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def __enter__(self) -> Running:
        self._thread.start()
        if not self._ready.wait(30) or self.running is None:
            raise RuntimeError(f"the server did not start: {self._error!r}")
        return self.running

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None and self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by __enter__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._settings, plain_asgi=self._plain_asgi) as running:
            self.running = running
            self._ready.set()
            await self._stop.wait()


@pytest.fixture(scope="module", params=["native", "asgi"])
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp("fuzz")) / "data",
        sqlite_synchronous="OFF",
        max_command_bytes=MAX_COMMAND_BYTES,
        max_message_bytes=MAX_MESSAGE_BYTES,
        # the fuzzer is one fast client: rate limits would answer most frames before parsing
        command_rate=1e6,
        command_burst=1_000_000,
        hello_timeout=5.0,
    )
    with ServerThread(settings, plain_asgi=request.param == "asgi") as running:
        yield running


# -- frames, from the command models ----------------------------------------------------------

TEXT_CHARS = st.characters(exclude_categories=("Cs",))  # what UTF-8 can carry
TEXT = st.text(TEXT_CHARS, max_size=40)
NUMBERS = (
    st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**64 + 2)
    | st.integers(min_value=-(2**63) - 2, max_value=-(2**63) + 2)
    | st.floats(allow_nan=True, allow_infinity=True)
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


SCHEMAS = {name: model.model_json_schema() for name, model in COMMANDS.items()}


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Valid values of a (pydantic-generated) JSON Schema, at its edges more often than not."""
    if "const" in schema:
        return st.just(schema["const"])
    if "anyOf" in schema:  # null is left to the mutations: an optional field is left out instead
        options = [s for s in schema["anyOf"] if s.get("type") != "null"] or schema["anyOf"]
        return st.one_of([from_schema(s) for s in options])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if high is None:  # where the store's 64-bit integers end, and JavaScript's exact ones
            edges = [low or 0, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1]
        else:
            edges = [v for v in (low, high) if v is not None]
        # two draws in three take an edge
        return st.one_of(
            st.integers(min_value=low, max_value=high),
            st.sampled_from(edges),
            st.sampled_from(edges),
        )
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 200)
        return st.text(TEXT_CHARS, min_size=low, max_size=min(high, 200)) | st.builds(
            lambda c: c * high, st.sampled_from("xé鄵🧪")
        ).filter(lambda s: len(s) >= low)
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=5)
    if kind == "object":
        return st.dictionaries(TEXT, JSON, max_size=4)
    return JSON


@st.composite
def valid_command(draw: st.DrawFn, name: str | None = None) -> dict[str, Any]:
    name = name or draw(st.sampled_from(sorted(COMMANDS)))
    schema = SCHEMAS[name]
    frame: dict[str, Any] = {"type": name}
    required = set(schema.get("required", []))
    for key, sub in schema["properties"].items():
        if key == "type":
            continue
        if key in required or draw(st.integers(0, 3)) > 0:  # optional fields: 3 times in 4
            frame[key] = draw(from_schema(sub))
    return frame


@dataclass(frozen=True)
class Deep:
    """A value nested ``depth`` levels deep, written out by ``encode`` (too deep for ``json``)."""

    depth: int
    kind: str
    leaf: Any

    def text(self) -> str:
        opening, closing = ("[", "]") if self.kind == "list" else ('{"k":', "}")
        return opening * self.depth + json.dumps(self.leaf, allow_nan=True) + closing * self.depth


@st.composite
def mutated_command(draw: st.DrawFn) -> dict[str, Any]:
    """A valid command with one thing wrong (or, now and then, still right)."""
    frame = draw(valid_command())
    keys = [k for k in SCHEMAS[frame["type"]]["properties"] if k != "type"]
    how = draw(st.sampled_from(["retype", "extra", "huge", "deep", "type"]))
    key = draw(st.sampled_from(keys)) if keys else "id"
    if how == "retype":
        frame[key] = draw(JSON)
    elif how == "extra":
        frame[draw(TEXT.filter(lambda k: k not in frame))] = draw(JSON)
    elif how == "huge":
        size = draw(st.sampled_from([MAX_COMMAND_BYTES - 40, MAX_COMMAND_BYTES + 1, 20_000]))
        frame[key] = draw(st.sampled_from("x鄵🧪")) * size
    elif how == "deep":
        depth = draw(st.integers(min_value=1, max_value=2_000))
        frame[key] = Deep(depth, draw(st.sampled_from(["list", "dict"])), draw(JSON))
    else:
        frame["type"] = draw(JSON)
    return frame


def encode(value: Any) -> str:
    """JSON text (``NaN`` and integers beyond 64 bits included: the server must refuse them)."""
    deep: list[Deep] = []

    def placeholder(obj: object) -> str:
        assert isinstance(obj, Deep)
        deep.append(obj)
        return f"\x00deep{len(deep) - 1}\x00"

    text = json.dumps(value, allow_nan=True, default=placeholder)
    for i, d in enumerate(deep):
        text = text.replace(json.dumps(f"\x00deep{i}\x00"), d.text())
    return text


#: (kind, payload): ``text`` frames are sent as text messages, ``bytes`` as binary ones.
Message = tuple[str, str | bytes]

#: A ``type`` that is no command: its error quotes it, in any script.
UNKNOWN_TYPE = st.text(
    st.characters(min_codepoint=0x80, exclude_categories=("Cs",)) | TEXT_CHARS,
    min_size=1,
    max_size=60,
).filter(lambda t: t not in COMMANDS)
VALID = valid_command().map(lambda f: ("text", encode(f)))
MUTATED = mutated_command().map(lambda f: ("text", encode(f)))
MESSAGES: st.SearchStrategy[Message] = st.one_of(
    # branches are drawn alike: commands, valid or with one thing wrong, half of the time
    *[VALID] * 3,
    *[MUTATED] * 3,
    UNKNOWN_TYPE.map(lambda t: ("text", encode({"type": t}))),
    JSON.map(lambda v: ("text", encode(v))),
    st.text(TEXT_CHARS, max_size=200).map(lambda t: ("text", t)),
    st.binary(max_size=200).map(lambda b: ("bytes", b)),
    st.builds(
        lambda depth, kind: (
            "text",
            encode({"type": "start_task", "task_type": "x", "params": {"p": Deep(depth, kind, 1)}}),
        ),
        st.integers(min_value=100, max_value=1_500),
        st.sampled_from(["list", "dict"]),
    ),
    st.builds(lambda n: ("text", "[" * n), st.integers(min_value=1, max_value=MAX_COMMAND_BYTES)),
    st.builds(lambda n: ("text", " " * n), st.sampled_from([MAX_MESSAGE_BYTES + 1])),
)


#: What fuzzing found once, tried on every run.
AFTER_HELLO_REGRESSIONS: list[Message] = [
    ("text", '{"type": "mark_read", "up_to_seq": 9223372036854775808}'),
    ("text", '{"type": "ack", "seq": 18446744073709551615}'),
    ("text", '{"type": "⪍鄵讲峩【"}'),
]
FIRST_FRAME_REGRESSIONS: list[Message] = [
    ("text", '{"type":"⪍鄵讲峩【"}'),
    ("text", '{"type":"' + "🧪" * 40 + '"}'),
    ("text", '{"type": "hello", "since": 9223372036854775808}'),
]


# -- the client -----------------------------------------------------------------------------


@dataclass
class Outcome:
    replies: dict[str, int] = field(default_factory=dict)
    closes: dict[int, int] = field(default_factory=dict)
    examples: int = 0

    def count_reply(self, kind: str) -> None:
        self.replies[kind] = self.replies.get(kind, 0) + 1

    def count_close(self, code: int) -> None:
        self.closes[code] = self.closes.get(code, 0) + 1


class FuzzClient:
    """A signed-in connection that reconnects after the server closed it."""

    def __init__(self, srv: Running) -> None:
        self.srv = srv
        self.token = srv.token("fuzz")
        self.ws: ClientConnection | None = None
        self.stack = contextlib.ExitStack()
        self.pending: list[dict[str, Any]] = []

    def connection(self) -> ClientConnection:
        if self.ws is None:
            self.ws = self.stack.enter_context(
                connect(self.srv.ws_url, max_size=None, open_timeout=10, close_timeout=2)
            )
            self.ws.send(json.dumps({"type": "hello", "token": self.token}))
            while self.recv()["type"] != "synced":
                pass
        return self.ws

    def recv(self, timeout: float = 10) -> dict[str, Any]:
        if not self.pending:
            assert self.ws is not None
            message = self.ws.recv(timeout)
            self.pending.extend(json.loads(line) for line in str(message).split("\n"))
        return self.pending.pop(0)

    def reply(self) -> dict[str, Any]:
        """The next frame that is not a notification."""
        while (frame := self.recv()).get("type") not in CONTROL_FRAME_TYPES:
            pass
        return frame

    def drop(self) -> None:
        self.stack.close()
        self.ws = None
        self.pending.clear()

    def close(self) -> None:
        self.drop()


def check_reply(frame: dict[str, Any], sent: Message) -> str:
    """The reply's kind; fails unless it is documented and not ``internal``."""
    if frame["type"] == "error":
        assert frame["code"] in DOCUMENTED_ERRORS, (frame, sent)
        assert isinstance(frame["message"], str) and frame["message"], (frame, sent)
        return f"error:{frame['code']}"
    try:
        command = json.loads(sent[1]) if sent[0] == "text" else None
    except (ValueError, RecursionError):
        command = None
    expected = REPLIES.get(command.get("type")) if isinstance(command, dict) else None
    assert frame["type"] == expected, (frame, sent)
    return str(frame["type"])


def fuzz_settings(count: int) -> hsettings:
    return hsettings(
        max_examples=EXAMPLES or count,
        deadline=timedelta(seconds=5),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


#: What the fuzzing itself allocates and keeps (Hypothesis' caches, the strategies, schemas).
NOT_THE_SERVER = [
    tracemalloc.Filter(False, "*/hypothesis/*"),
    tracemalloc.Filter(False, "*/pydantic/json_schema.py"),
    tracemalloc.Filter(False, __file__),
    tracemalloc.Filter(False, tracemalloc.__file__),
]


@dataclass
class Memory:
    retained: int  #: bytes still held afterwards by what is not the fuzzer
    peak: int  #: bytes, all memory traced
    top: list[str]  #: where most of ``retained`` was allocated

    def __str__(self) -> str:
        return f"memory retained {self.retained / 1024:.0f} KiB (peak {self.peak / 1024:.0f} KiB)"


def traced(run: Any) -> Memory:
    """What ``run()`` leaves allocated, after a collection, in the server and the client
    library (Hypothesis' own caches and this module's are left out)."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces(NOT_THE_SERVER)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stats = snapshot.statistics("filename")
    return Memory(sum(s.size for s in stats), peak, [str(s) for s in stats[:5]])


# -- the properties -------------------------------------------------------------------------


def test_every_frame_after_hello_gets_a_documented_answer_and_the_server_serves_on(
    fuzz_server: Running,
) -> None:
    client = FuzzClient(fuzz_server)
    outcome = Outcome()

    def one(message: Message) -> None:
        outcome.examples += 1
        ws = client.connection()
        try:
            ws.send(message[1])
            kind = check_reply(client.reply(), message)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, f"no close frame after {message!r:.200}"
            assert closed.rcvd.code in DOCUMENTED_CLOSES, (closed.rcvd, message)
            outcome.count_close(closed.rcvd.code)
            client.drop()
            return
        outcome.count_reply(kind)
        # and the server still serves this connection
        ws.send('{"type": "ping", "id": "after"}')
        assert client.reply() == {"type": "pong", "ref": "after"}

    def run(count: int) -> Any:
        test = given(message=MESSAGES)(one)
        for message in AFTER_HELLO_REGRESSIONS:
            test = example(message=message)(test)
        return fuzz_settings(count)(test)

    def traced_run() -> None:
        run(300)()
        client.close()  # what the server still holds afterwards is what it kept

    started = time.monotonic()
    try:
        run(40)()  # warm-up, not traced: Hypothesis fills caches of its own on a first run
        memory = traced(traced_run)
    finally:
        client.close()
    took = time.monotonic() - started
    print(
        f"\n{outcome.examples} frames after hello in {took:.1f}s; replies {outcome.replies}; "
        f"closes {outcome.closes}; {memory}"
    )
    assert outcome.examples >= min(EXAMPLES or 340, 100)
    assert memory.retained < RETAINED_AT_MOST, memory.top


USER = "fuzz-first"
FIRST_FRAMES: st.SearchStrategy[Message] = st.one_of(
    MESSAGES,
    valid_command("hello").map(lambda f: ("text", encode(f))),
    # an error before hello closes the socket with the error's message as the close reason
    UNKNOWN_TYPE.map(lambda t: ("text", encode({"type": t}))),
)


def test_every_first_frame_gets_welcome_or_an_error_and_a_documented_close(
    fuzz_server: Running,
) -> None:
    srv = fuzz_server
    outcome = Outcome()
    good = srv.token(USER)

    def one(message: Message, signed: bool) -> None:
        outcome.examples += 1
        if signed and message[0] == "text":
            try:
                frame = json.loads(message[1])
            except (ValueError, RecursionError):
                frame = None
            if isinstance(frame, dict) and frame.get("type") == "hello":
                frame["token"] = good
                message = ("text", encode(frame))
        with connect(srv.ws_url, max_size=None, open_timeout=10, close_timeout=2) as ws:
            ws.send(message[1])
            try:
                first = json.loads(str(ws.recv(10)).split("\n")[0])
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code in DOCUMENTED_CLOSES
                outcome.count_close(closed.rcvd.code)
                return
            if first["type"] == "welcome":
                outcome.count_reply("welcome")
                return
            assert first["type"] == "error" and first["code"] in DOCUMENTED_ERRORS, first
            outcome.count_reply(f"error:{first['code']}")
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(10)
            assert closed.value.rcvd is not None, message
            assert closed.value.rcvd.code in DOCUMENTED_CLOSES, (closed.value.rcvd, message)
            assert len(closed.value.rcvd.reason.encode()) <= MAX_CLOSE_REASON_BYTES
            outcome.count_close(closed.value.rcvd.code)

    def run(count: int) -> Any:
        test = given(message=FIRST_FRAMES, signed=st.booleans())(one)
        for message in FIRST_FRAME_REGRESSIONS:
            test = example(message=message, signed=False)(test)
        return fuzz_settings(count)(test)

    started = time.monotonic()
    run(10)()  # warm-up, not traced
    memory = traced(run(60))
    took = time.monotonic() - started
    print(
        f"\n{outcome.examples} first frames in {took:.1f}s; replies {outcome.replies}; "
        f"closes {outcome.closes}; {memory}"
    )
    # every connection is gone from the hub again
    deadline = time.monotonic() + 10
    while srv.grace.hub.connection_count(USER) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.grace.hub.connection_count(USER) == 0
    assert memory.retained < RETAINED_AT_MOST, memory.top
