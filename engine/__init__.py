"""The trading engine: FIFO minute batches → engine_core signals → strategy → orders.

The process (``python -m engine``; design.md §6):

- :mod:`engine.cli` — the command line (live, and ``backtest``);
- :mod:`engine.app` — start-up in the design's order, then one decision per minute batch:
  a thin shell (read, step, journal intents, send, record) around :mod:`engine.minute_step`,
  the minute as a pure step (broker snapshot and journal facts in, orders and rows out);
- :mod:`engine.startup` — today's session from the broker's clock, reconciliation wiring;
- :mod:`engine.warmup` and :mod:`engine.market_grid` — history and today's bars on the
  session grid, replayed through the live update path;
- :mod:`engine.bar_feed` — FIFO lines → grid minutes (stale/duplicate skipped, gaps backfilled);
- :mod:`engine.signals` — bars → engine_core → per-symbol signals (per-bar and batch);
- :mod:`engine.decision` — the one per-minute decision step shared by live and backtest;
- :mod:`engine.execution` and :mod:`engine.position_book` — intents journaled, orders sent,
  every order report (stream event, response, poll) applied in one place;
- :mod:`engine.trade_stream` and :mod:`engine.trade_events` — Alpaca's trade-updates
  websocket in a thread, its messages read defensively, handed over through a queue;
- :mod:`engine.broker_view` — positions, entry prices, cash and order progress kept from
  those reports (seeded by REST), what each decision reads;
- :mod:`engine.book_check` — the book and the view checked against the broker, after the
  orders are sent; :mod:`engine.broker_time` — the broker's clock read once, then tracked;
- :mod:`engine.eod` — cancel and flatten the strategy's universe at close − 2 minutes
  (closing orders without a bar rest, pending), confirm flat after the close.

Decision and bookkeeping parts:

- :mod:`engine.strategies` — the PSM and rotation strategies behind one interface
  (``decide(MinuteInput) -> Decision``, JSON-serializable state, recognising and taking
  over the broker's holdings); nothing outside it names a concrete strategy;
- :mod:`engine.order_ids` — deterministic, parseable ``client_order_id`` values;
- :mod:`engine.risk` and :mod:`engine.order_plan` — targets vs the book → capped orders;
- :mod:`engine.journal` (SQLite) and :mod:`engine.state_snapshot` (``state.json``);
- :mod:`engine.order_lifecycle` — every order status change, through one table of moves;
- :mod:`engine.reconcile` — broker positions and open orders → strategy state at start-up,
  taken over without disruption (:mod:`engine.strategies.takeover`).

Backtest: :mod:`engine.backtest` runs the same strategy code with mockmarket's fill rule and
costs (the shared :mod:`ledger`): :mod:`engine.sim_fills` (where and at what price an order
fills on the grid), :mod:`engine.sim_liquidity` (each symbol's liquidity, for the
half-spread), :mod:`engine.sim_account` (cash, positions, resting orders, fees);
:mod:`engine.backtest_result` (gross, costs, net, turnover, round trips per group of
sessions, and the report), :mod:`engine.hold_baseline` (holding the symbols instead) and
:mod:`engine.diagnostics` (the signals' information coefficients, also for the optimizer).
"""
