"""The engines that keep Grace's state: one file per store under ``grace_chat.store.backends``,
and the choice of engine from the database URL (``grace_chat.store.engines``). The contracts they
keep live with the systems that use them (``grace_chat.notifications.store``,
``grace_chat.tasks.store``, …)."""
