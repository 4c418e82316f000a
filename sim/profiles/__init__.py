"""Bundled TEST ONLY card profiles (TOML); a package so they install as package data."""
