"""What several processes share: bars and their files, the trading calendar,
the Alpaca REST client, endpoint settings, the error tree and logging."""
