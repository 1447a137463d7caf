import os, sys, time
sys.path.insert(0, os.getcwd())
from ledger.persistence import parse_database_url
from service.bootstrap import open_ledger
from psycopg.rows import tuple_row
app = open_ledger(parse_database_url(sys.argv[1]))
rec = app.recorder
def ms(f, n=3000):
    xs = []
    for _ in range(n):
        b = time.perf_counter(); f(); xs.append((time.perf_counter() - b) * 1e6)
    xs.sort(); return f"p50 {xs[n//2]:.0f} us p99 {xs[int(n*.99)]:.0f} us"
head = rec.max_notification_id()
print("library select_notifications", ms(lambda: rec.select_notifications(start=head, limit=1001, inclusive_of_start=True)))
stmt = f"SELECT notification_id, originator_id, originator_version FROM {rec.events_table_name} WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
def custom():
    with rec.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as c:
        c.execute(stmt, [head, 1001], prepare=True); return c.fetchall()
print("custom ids only binary       ", ms(custom))
print("max_notification_id          ", ms(rec.max_notification_id))
print("check()                      ", ms(app.log_check.check))
