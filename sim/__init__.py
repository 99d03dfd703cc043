"""Simulation backtests (built in a later issue)."""
