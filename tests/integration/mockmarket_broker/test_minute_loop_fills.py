"""With the server's own minute loop and a running clock: orders queued before the open
fill at the first minute's open, and day orders expire at the close."""

from __future__ import annotations

import requests

from common.bars import MINUTE_MS


def test_orders_before_the_open_fill_at_the_open_through_the_minute_loop(
    server_factory, keys, session
):
    # 600x: one simulated minute every 0.1 s; the clock starts at 09:29 and is paused until orders are in
    server = server_factory("09:29", minute_loop=True, speed=600.0, paused=True)
    headers = {"APCA-API-KEY-ID": keys[0], "APCA-API-SECRET-KEY": keys[1]}
    body = {"symbol": "AAA", "qty": "7", "side": "buy", "type": "market", "time_in_force": "day"}
    queued = requests.post(server.base_url + "/v2/orders", json=body, headers=headers).json()
    assert queued["status"] == "new"
    limit = dict(body, type="limit", limit_price="1.00", qty="1")
    resting = requests.post(server.base_url + "/v2/orders", json=limit, headers=headers).json()
    server.call(server.ctx.clock.resume)

    def filled() -> bool:
        return server.ctx.broker.get_order(queued["id"])["status"] == "filled"

    server.wait_for(filled, timeout=20)
    got = server.call(server.ctx.broker.get_order, queued["id"])
    first_open = server.ctx.store.bar_at("AAA", session.open_ms).open
    assert float(got["filled_avg_price"]) == first_open
    # jump to just before the close: the loop walks every minute up to it, then expires the day order
    server.call(server.ctx.clock.set_time, session.close_ms - MINUTE_MS)
    server.wait_for(
        lambda: server.ctx.broker.get_order(resting["id"])["status"] == "expired", timeout=30
    )
