"""Cost curves: how each cost of serving grows with the work (``python -m bench.curves NAME``).

Each curve is a module of this package with ``add_arguments(parser)`` and ``run(args) -> int``;
it prints a table with the baselines beside Grace where they apply, writes its points as JSON to
``bench/results/curves/NAME.json`` and its chart to ``docs/curves/NAME.png`` (``common.save``).
"""

from __future__ import annotations

#: Every curve, by the module that measures it.
CURVES = {
    "logsize": "CPU per delivery and latency against the entries already in the log",
    "startup": "start-up time and memory against the entries already in the log",
    "replay": "the cost of resuming against the number of missed notifications",
    "connections": "memory per connection and latency against idle connections held",
    "users": "cost against the number of distinct users",
    "reconnect": "a reconnect storm of many clients, each resuming many missed notifications",
    "soak": "RSS and latency percentiles minute by minute at a steady rate",
    "deflate": "permessage-deflate on and off: CPU per delivery and bytes on the wire",
}
