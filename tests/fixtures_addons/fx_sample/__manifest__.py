{"name": "sample", "title": "Sample", "version": "2.0.0", "summary": "migration fixture",
 "category": "Test", "depends": [], "requires_core": ">=0.1", "license": "MIT"}
