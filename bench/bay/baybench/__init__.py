"""Bay benchmark harness (bench/bay/run.py). Reuses bench/ship/shipbench's helpers."""
