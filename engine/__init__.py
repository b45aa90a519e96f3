"""The trading engine: FIFO minute batches → engine_core signals → strategy → orders.

This package holds the engine's decision and bookkeeping parts:

- :mod:`engine.strategies` — the PSM and rotation strategies behind one interface
  (``decide(MinuteInput) -> Decision``, JSON-serializable state);
- :mod:`engine.order_ids` — deterministic, parseable ``client_order_id`` values;
- :mod:`engine.risk` and :mod:`engine.order_plan` — targets vs the book → capped orders;
- :mod:`engine.journal` (SQLite) and :mod:`engine.state_snapshot` (``state.json``);
- :mod:`engine.reconcile` — broker positions and open orders → strategy state at start-up.
"""
