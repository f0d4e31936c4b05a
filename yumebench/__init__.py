"""yumebench: build Yume1.5 training data, score world models on Yume-Bench, run the reference model."""

__version__ = "0.1.0"
