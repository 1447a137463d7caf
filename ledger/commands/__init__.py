"""The commands of the one application service, grouped by the part of the measures they serve.

Each group is a mixin of `ledger.application.VoucherLedger`; every command loads aggregates, checks
the rules, and ends in one atomic `save` through `CommandBase._commit`.
"""
