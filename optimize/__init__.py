"""The optimizer: two Optuna phases over the most recent sessions, governed by a held-out gate.

``python -m launch optimize`` runs it alone; ``launch live|mock`` run it before trading
(unless ``--skip-optimize``) and, with ``--midday-optimize``, once more at midday.
Modules, one concept each: ``windows`` (warm-up / scored / held-out sessions), ``spaces``
(the phases' parameters, as data), ``dataset`` (the grid, costs and liquidity every trial
shares; parameters to config through the engine's overlay), ``signal_cache`` (signals
computed once per signal parameter set), ``simulator`` (the seam a compiled decision loop
plugs into; the backtest is the reference), ``objective`` (mean daily net return, trade
penalty, one pruner report per session), ``study`` (seeded TPE, median pruner, worker
processes), ``storage`` (journal file or database URL), ``gate`` (promotion on held-out
sessions), ``best_params`` (the file the engine reads, with provenance), ``report``
(progress bar, best trials, verdict), ``last_run`` (the record of each finished run, which
the launcher reads on a relaunch), ``run`` (all of it in order).
"""
