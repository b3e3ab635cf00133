{
    "name": "call_center",
    "title": "Call Center",
    "version": "0.1.0",
    "summary": "Tickets with SLAs in business hours, escalation, routing, telephony screen-pop and call records.",
    "category": "Customers/Call Center",
    "depends": [],
    "optional_depends": ["membership", "franchise"],
    "requires_core": ">=0.3,<1",
    "license": "LGPL-3.0-or-later",
    "author": "Banyan",
    "demo": True,
}
