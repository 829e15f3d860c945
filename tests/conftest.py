"""The project's own tests: unit tests need nothing; integration tests use the real services."""

pytest_plugins = ["pytester"]
