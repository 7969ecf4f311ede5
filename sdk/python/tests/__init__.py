"""Tests of the shipyard_neo SDK."""
