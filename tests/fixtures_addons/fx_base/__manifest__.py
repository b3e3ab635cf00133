{"name": "fxbase", "title": "Fixture base", "version": "1.0.0", "summary": "installer fixture",
 "category": "Test", "depends": [], "requires_core": ">=0.1", "license": "MIT"}
