"""Loyalty: points ledger with expiring lots, rewards, promotions and coupons (no side effects)."""
