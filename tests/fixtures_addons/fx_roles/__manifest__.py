{"name": "fxroles", "title": "Fixture roles", "version": "1.0.0", "summary": "registry fixture: a role of its own",
 "category": "Test", "depends": [], "requires_core": ">=0.1", "license": "MIT"}
