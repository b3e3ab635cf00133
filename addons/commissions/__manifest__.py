{
    "name": "commissions",
    "title": "Commissions",
    "version": "0.1.0",
    "summary": "Sales commissions: plans by product, category, store and role, per-line attribution, "
               "targets and tiers, period statements with clawback",
    "description": "Commission plans assigned to employees, roles or stores with effective dates; rules "
                   "paying a percentage of the net line amount, a fixed amount per unit or a percentage of "
                   "margin; each sale line credited to its clerk (splits by percentage), to the store "
                   "manager and to the region manager by their own plans; reversals on refunds in "
                   "proportion; targets with tiered bonuses (whole bracket or marginal); monthly statements "
                   "draft -> approved (four-eyes above a threshold) -> paid, with clawback of refunds "
                   "after payment; payroll export and a what-if over a past period.",
    "category": "Sales/Commissions",
    "depends": [],
    "requires_core": ">=0.3,<1",
    "license": "LGPL-3.0-or-later",
    "application": True,
    "author": "Banyan",
    "demo": True,
}
