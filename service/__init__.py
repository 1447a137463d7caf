"""The composition root: bootstrap (the one place a ledger, its views and the app are wired), the
`voucher-ledger` command line and the demo year. Nothing below it (ledger/, projections/, web/) imports it."""
