"""``grace``: serve, demo, token, notify, tail (learn and celery-events join from their own
packages). The only place besides ``Settings.from_env`` that reads the process environment
(through it) and the command line.

``parser`` builds the command line and runs ``main``; ``options`` reads and checks its values;
``server`` runs the server (``serve``, ``demo``); ``client_commands`` talks to a running one.
"""

from grace_chat.cli.parser import main

__all__ = ["main"]
