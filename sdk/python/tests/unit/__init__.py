"""Unit tests: every SDK call against a faked transport."""
