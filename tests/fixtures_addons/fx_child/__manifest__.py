{"name": "fxchild", "title": "Fixture child", "version": "1.0.0", "summary": "installer fixture",
 "category": "Test", "depends": ["fxbase"], "requires_core": ">=0.1", "license": "MIT"}
