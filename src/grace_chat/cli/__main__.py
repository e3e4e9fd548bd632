"""``python -m grace_chat.cli``: the ``grace`` command."""

import sys

from grace_chat.cli import main

if __name__ == "__main__":
    sys.exit(main())
