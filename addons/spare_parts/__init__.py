"""Spare parts and repairs: a Banyan addon (no side effects on import)."""
