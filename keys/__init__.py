"""Key management and PIN/MAC cryptography: pure, built on pycryptodome."""
