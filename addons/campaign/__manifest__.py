{
    "name": "campaign",
    "title": "Campaign",
    "version": "0.1.0",
    "summary": "Customer segments, marketing plans with approval, consented messages, hold-out groups and ROI.",
    "category": "Extra/Campaign",
    "depends": [],
    "requires_core": ">=0.3,<1",
    "license": "LGPL-3.0-or-later",
    "author": "Banyan",
    "demo": True,
}
