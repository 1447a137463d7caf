import sys, re
from collections import Counter
lines = [l.rsplit(" ", 1) for l in open(sys.argv[1]) if l.strip()]
stacks = [(s.split(";"), int(n)) for s, n in lines]
total = sum(n for _, n in stacks)
inapp = [(f, n) for f, n in stacks if any("WSGITask.execute" in x for x in f)]
tin = sum(n for _, n in inapp)
print(f"samples {total}, in a request {tin} ({tin/total:.0%})")
markers = sys.argv[2:] or ["stamp_request", "authenticate", "LogEntries.__call__", "check (ledger", "get_voucher", "query_one", "flask_smorest/response", "marshmallow", "finish_request", "headers (web", "werkzeug", "psycopg/", "json_provider", "refuse_hostile", "waitress/task.py", "observe.py", "fresh_views", "ensure"]
for m in markers:
    c = sum(n for f, n in inapp if any(m in x for x in f))
    print(f"  {m:35s} {c/tin:6.1%}")
leaf = Counter()
for f, n in inapp: leaf[re.sub(r":\d+\)", ")", f[-1])] += n
print("self time top:")
for k, v in leaf.most_common(22): print(f"  {v/tin:6.1%} {k[:130]}")
