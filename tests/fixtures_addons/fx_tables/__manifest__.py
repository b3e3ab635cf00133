{"name": "fxtables", "title": "Fixture tables", "version": "1.0.0", "summary": "registry fixture: a plain Table",
 "category": "Test", "depends": [], "requires_core": ">=0.1", "license": "MIT"}
