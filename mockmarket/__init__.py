"""mockmarket: a local Alpaca-compatible market (REST, data websocket, trade updates)."""
