"""Offline data authentication (EMV 4.4 Book 2 sections 5-7, Book 3 10.3)."""
