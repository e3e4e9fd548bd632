"""Durable state: the notification log's contract (``grace.store.base``), the engines that keep
every store (``grace.store.backends``), and the choice of engine from the database URL
(``grace.store.engines``)."""
