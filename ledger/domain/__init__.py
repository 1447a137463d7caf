"""Aggregates of the voucher fund, one module each, events nested in them (ARCHITECTURE.md)."""
