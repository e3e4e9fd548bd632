"""A typed asyncio client for Grace's protocol v1 (``docs/client.md``).

``GraceClient`` iterates one user's notifications with resume across disconnects and server
restarts, and sends every protocol command as an awaitable method. It imports only the
protocol-level modules (``protocol``, ``frames``, ``errors``), never the server.
"""

from grace_chat.client.client import GraceClient, StreamListener, Transport
from grace_chat.client.cursor import Cursor, CursorStore, FileCursorStore, MemoryCursorStore
from grace_chat.client.retry import RetryPolicy

__all__ = [
    "Cursor",
    "CursorStore",
    "FileCursorStore",
    "GraceClient",
    "MemoryCursorStore",
    "RetryPolicy",
    "StreamListener",
    "Transport",
]
