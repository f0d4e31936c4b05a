"""Yume-Bench: specs, suites and the runner that scores videos on every registered dimension."""
