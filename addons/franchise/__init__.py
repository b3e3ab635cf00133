"""Franchise: a Banyan addon (no side effects on import)."""
