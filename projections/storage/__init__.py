"""Storage plumbing: the schema and its migration, the read models' store and page writes, and the
bulk reads of the library's own tables (events, snapshots, tracking): the one place that knows them."""
