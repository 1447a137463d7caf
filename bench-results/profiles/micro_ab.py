"""A/B in one process, alternating rounds: the library's event collection vs VoucherLedger.save's, and uuid5 vs the memo."""
import statistics, time, uuid
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate
from ledger.domain.base import LEDGER_NAMESPACE, natural_id

class Thing(Aggregate):
    def poke(self): self.trigger_event(self.Poked)
    class Poked(Aggregate.Event): pass

def make(n):
    things = [Thing() for _ in range(n)]
    for t in things: t.collect_events()
    for t in things: t.poke()
    return things

def library(things):
    p = ProcessingEvent(); p.collect_events(*things); return p

def ours(things):
    p = ProcessingEvent()
    for obj in things:
        if isinstance(obj, Aggregate):
            p.events.extend(obj.collect_events()); p.aggregates[obj.id] = obj
        else:
            p.collect_events(obj)
    return p

rounds = {"library": [], "ours": [], "uuid5": [], "natural_id": []}
keys = [f"/provider/P{i % 50}" for i in range(2000)]
for _ in range(15):
    for name, fn in (("library", library), ("ours", ours)):
        things = make(600)  # a year-close chunk's aggregates
        t = time.perf_counter(); fn(things); rounds[name].append((time.perf_counter() - t) / 600 * 1e6)
    t = time.perf_counter()
    for k in keys: uuid.uuid5(LEDGER_NAMESPACE, k)
    rounds["uuid5"].append((time.perf_counter() - t) / len(keys) * 1e6)
    t = time.perf_counter()
    for k in keys: natural_id(k)
    rounds["natural_id"].append((time.perf_counter() - t) / len(keys) * 1e6)
for name, xs in rounds.items():
    print(f"{name:<11} median {statistics.median(xs):6.2f} µs per aggregate/key (15 rounds)")
