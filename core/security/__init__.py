"""Permissions, roles and record scope: one check serves the back office and the API."""
