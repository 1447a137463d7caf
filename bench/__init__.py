"""The benchmark harness (issue 7): `scripts/bench` (`python -m bench`, bench/__main__.py), outside the wheel.

Generates a realistic year through the ledger's own commands at a chosen scale, on SQLite or
PostgreSQL, then measures command throughput (in-process and over HTTP against a real waitress
server), query latency, read-model catch-up and rebuild, the audit export and chain verification,
and the year close — every figure also as a ratio against the database's own floor measured in
the same run. It opens the ledger through the composition root (service/bootstrap.py) and starts its
server with the process helpers the tests use (tests/servers.py); nothing in the product imports it.

Modules: plan (the year's mix), world (what was made; running commands), generate, settlement
(batches and sanctions, feature-detected), material (fresh subjects for measured commands),
floor, app_commands, views_bench, server, http_bench, audit, report, run, export_memory.
"""
