{
    "name": "franchise",
    "title": "Franchise network",
    "version": "0.1.0",
    "summary": "Franchisees, contracts, credit control, replenishment orders and royalty statements.",
    "category": "Sales/Franchise",
    "depends": [],
    "requires_core": ">=0.3,<1",
    "license": "LGPL-3.0-or-later",
    "author": "Banyan",
    "demo": True,
}
