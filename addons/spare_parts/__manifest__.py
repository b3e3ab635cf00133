{
    "name": "spare_parts",
    "title": "Spare parts and repairs",
    "version": "0.1.0",
    "summary": "Parts stock ledger, warranty registration, dispatch work orders and replacement approvals.",
    "category": "Extra/Spare parts and repairs",
    "depends": [],
    "requires_core": ">=0.3,<1",
    "license": "LGPL-3.0-or-later",
    "author": "Banyan",
    "demo": True,
}
