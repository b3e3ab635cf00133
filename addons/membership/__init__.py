"""Membership addon: members, cards, tiers, stored value. Public API: ``addons.membership.services``."""
