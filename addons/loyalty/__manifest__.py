{
    "name": "loyalty",
    "title": "Loyalty",
    "version": "0.1.0",
    "summary": "Points, rewards, promotions and coupons across the chain",
    "description": "Points earned on confirmed sales (rules per store, bonus products, tier "
                   "multipliers, double-points events) kept in a ledger of expiring lots; "
                   "redemption catalog, points as a payment method, transfers, leaderboard and "
                   "year-end rebates; promotions and coupons applied at checkout with ROI per "
                   "promotion; outstanding-points liability and clearing between franchisees.",
    "category": "Sales/Loyalty",
    "depends": ["membership"],
    "optional_depends": ["franchise"],
    "requires_core": ">=0.1",
    "license": "LGPL-3.0-or-later",
    "application": True,
    "author": "Banyan",
    "demo": True,
}
