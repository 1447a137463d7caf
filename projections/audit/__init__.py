"""The audit subsystem (Art. 21-24): the canonical record and hash chain, the trace index and traces,
the years' history (as_of), the export and its offline verification, each party's scope, and the
check of snapshots against the events they came from."""
