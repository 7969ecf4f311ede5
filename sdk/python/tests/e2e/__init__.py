"""End-to-end tests against the real bay binary."""
