"""Mirrors of real exchanges: a venue's public books and trades, read through ccxt (the `live`
extra), fed into the engine's book through the same liquidity mirror the backtests use.

`spec.py` (what to mirror, parsed from `--mirror` and the `engine_mirror` setting) and
`feed.py` (what a venue's source yields) import nothing beyond the standard library, so an
engine without mirrors, and the CLI, never import ccxt.
"""
