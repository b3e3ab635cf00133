{"name": "fxbadsym", "title": "Fixture asymmetric", "version": "1.0.0", "summary": "loader fixture",
 "category": "Test", "depends": [], "requires_core": ">=0.1", "license": "MIT"}
