{
    "name": "campaign",
    "title": "Campaign",
    "version": "0.1.0",
    "summary": "Campaign for Banyan.",
    "category": "Extra/Campaign",
    "depends": [],
    "requires_core": ">=0.3,<1",
    "license": "LGPL-3.0-or-later",
    "author": "Banyan",
    "demo": True,
}
