"""SQLCipher storage: connections, migrations and repositories. All SQL lives in this package."""
