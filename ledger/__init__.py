"""Voucher Ledger: the fund ledger of Guangxi's enterprise service-subsidy vouchers (广西企业培优育强服务补贴券).

`ledger` holds the domain (the measures' rules, aggregates, events) and the one application service.
It imports neither Flask nor SQL.
"""
