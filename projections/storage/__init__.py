"""Storage: schema and migrations, bulk reads; the one place that knows the library's own tables."""
