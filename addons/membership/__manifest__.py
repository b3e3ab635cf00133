{
    "name": "membership",
    "title": "Membership",
    "version": "0.1.0",
    "summary": "Members, cards, tiers and stored value valid in every store of the chain",
    "description": "One member per customer; member cards with a lifecycle and history "
                   "(three cards in one: membership, points and stored value), family cards, "
                   "tiers with upgrade/downgrade rules and benefits, member prices, stored-value "
                   "accounts with top-up bonuses, clearing between operating companies, and "
                   "black/white lists.",
    "category": "Sales/Membership",
    "depends": [],
    "optional_depends": ["franchise"],
    "requires_core": ">=0.3,<1",
    "license": "LGPL-3.0-or-later",
    "application": True,
    "author": "Banyan",
    "demo": True,
    "post_install": "addons.membership.services:install_defaults",
}
