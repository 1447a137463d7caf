import time, psycopg
conn = psycopg.connect("postgresql://postgres:postgres@127.0.0.1:56557/t1", autocommit=True)
ids = [951649, 1124024]
def ms(q, binary=False, n=100):
    xs = []
    for _ in range(n):
        b = time.perf_counter()
        with conn.cursor(binary=binary) as c:
            c.execute(q, [ids], prepare=True); rows = c.fetchall()
        xs.append((time.perf_counter() - b) * 1000)
    xs.sort(); return f"p50 {xs[n//2]:.2f} p99 {xs[int(n*.99)]:.2f}"
print("state text  ", ms("SELECT * FROM voucherledger_events WHERE notification_id = ANY(%s)"))
print("state binary", ms("SELECT * FROM voucherledger_events WHERE notification_id = ANY(%s)", True))
print("sha256      ", ms("SELECT notification_id, sha256(state) FROM voucherledger_events WHERE notification_id = ANY(%s)"))
print("md5         ", ms("SELECT notification_id, md5(state) FROM voucherledger_events WHERE notification_id = ANY(%s)"))
print("length      ", ms("SELECT notification_id, length(state) FROM voucherledger_events WHERE notification_id = ANY(%s)"))
print("octet_length", ms("SELECT notification_id, pg_column_size(state) FROM voucherledger_events WHERE notification_id = ANY(%s)"))
