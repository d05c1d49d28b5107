"""Customer search: one interface, three backends (SQLite FTS5, Postgres, Elasticsearch)."""
