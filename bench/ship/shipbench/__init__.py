"""Ship benchmark harness (bench/ship/run.py). Standard library only."""
