"""The engines that keep Grace's state: one file per store under ``grace.store.backends``, and the
choice of engine from the database URL (``grace.store.engines``). The contracts they keep live
with the systems that use them (``grace.notifications.store``, ``grace.tasks.store``, …)."""
