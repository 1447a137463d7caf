"""Ad-hoc: a review's cost on a batch of N claims of K contracts, vs the library's one-event save, same run.

python batch_review.py DATABASE_URL N K REVIEWS   (run from a checkout: before = main, after = the branch)
"""
import statistics
import sys
import time
import uuid

from eventsourcing.domain import Aggregate, event

from ledger.context import Actor, acting
from ledger.domain.settlement import SettlementBatch
from ledger.persistence import parse_database_url
from service.bootstrap import open_ledger

url, n, k, reviews = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
app = open_ledger(parse_database_url(url))
docs = [{"name": "结算申请表.pdf", "sha256": "a" * 64, "size": 20480, "uri": "https://docs.example.gov.cn/c.pdf"}]
operator = Actor(role="operator", id="centre-wang")
with acting(operator):
    batch = SettlementBatch(year=2026, name="第一批")
claim_ids = []
for i in range(n):
    with acting(Actor(role="provider", id=f"provider-{i}", subject=f"p{i}")):
        cid = str(uuid.uuid4())
        batch.claim(cid, f"p{i}", {str(uuid.uuid4()): 4_000_000 for _ in range(k)}, docs)
        claim_ids.append(cid)
    if i % 100 == 99 or i == n - 1:  # as providers claim: one save of 2,600 events stalls psycopg's pipeline
        with acting(operator):
            app.save(batch)


class Probe(Aggregate):
    @event("Poked")
    def poke(self) -> None:
        pass


def timed(fn, times):
    out = []
    for _ in range(times):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


with acting(operator):
    probe = Probe()
    app.save(probe)


def save_one():
    with acting(operator):
        probe.poke()
        app.save(probe)


ids = iter(claim_ids)


def review():
    with acting(Actor(role="operator", id="centre-li")):
        app.review_claim(str(batch.id), next(ids), "approve", "材料核对")


library = timed(save_one, reviews)
reviewed = timed(review, reviews)
library2 = timed(save_one, reviews)
base = (library + library2) / 2
print(f"batch of {n} claims x {k} contracts: review p50 {reviewed*1000:.1f} ms; library one-event save p50 "
      f"{base*1000:.2f} ms; review / save = {reviewed/base:.1f}")
app.close()
