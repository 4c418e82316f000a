"""Simulated card profiles (TEST ONLY) used by the built-in suite."""
