import time, psycopg
from psycopg.rows import dict_row
conn = psycopg.connect("postgresql://postgres:postgres@127.0.0.1:56557/t1", autocommit=True, row_factory=dict_row)
def run(binary, start=1_000_000, pages=400, size=500):
    b = time.perf_counter(); n = 0; last = start
    for _ in range(pages):
        with conn.cursor(binary=binary) as c:
            c.execute("SELECT * FROM voucherledger_events WHERE notification_id > %s ORDER BY notification_id LIMIT %s", [last, size], prepare=True)
            rows = c.fetchall()
        n += len(rows); last = rows[-1]["notification_id"]
    return n / (time.perf_counter() - b)
for r in range(2):
    print("text  %.0f rows/s" % run(False), "binary %.0f rows/s" % run(True))
