"""The bridge: Alpaca's market-data websocket → minute batches of bars → the FIFO (design.md §3).

Modules: :mod:`bridge.messages` (parsing stream frames), :mod:`bridge.batcher`
(the minute batcher), :mod:`bridge.silence` (the silent-socket rule),
:mod:`bridge.stream` (the websocket client; its delays come from
:class:`common.retry.Backoff`), :mod:`bridge.seeds` (last closes from REST),
:mod:`bridge.app` (wiring and heartbeats), :mod:`bridge.cli` (``python -m bridge``).
"""
