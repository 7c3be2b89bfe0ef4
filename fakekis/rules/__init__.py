"""KRX market rules as pure functions (`prices`: tick sizes and daily price limits). The lowest floor of
fakekis: the generator, the market state and (later) order checks all read the same rules.
"""
