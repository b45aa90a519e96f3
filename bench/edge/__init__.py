"""How the strategies' defaults were chosen and checked (issue 10, "Honest P&L").

Reproducible, seeded commands over mockmarket's synthetic markets (30 sessions each, the
first 20 the warm-up, the last 10 scored), through the engine's own backtest and cost
model. From the repository root::

    # the table: mean day % (net of costs), t, round trips/day, turnover x equity/day, ...
    python -m bench.edge table --strategy psm --seeds 100-119 --signals 0.2,0
    python -m bench.edge table --strategy psm --original --seeds 1-3 --signals 0.2,0

    # paired comparison of variants of a config on the same sessions
    python -m bench.edge compare --strategy rotation --seeds 100-119 \\
        --variant '{"rotation_manager_config.cooldown_bars": 10}'

    # the planted signal's strength where a strategy starts to beat its costs
    python -m bench.edge sweep --strategy psm --strengths 0.1,0.15,0.2,0.3,0.4 --seeds 200-209

Markets are written once under ``data/research/edge`` (``--cache``). Modules: ``markets``
(the synthetic markets), ``evaluate`` (one config on one market), ``study`` (many markets,
the table's figures, paired comparisons).
"""
