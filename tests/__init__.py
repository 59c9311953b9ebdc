"""The test suite, mirroring the package."""
