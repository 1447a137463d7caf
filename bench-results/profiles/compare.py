import pstats, sys, glob, os
WAIT = ("wait", "commit", "execute", "executemany", "_communicate_gen", "sleep", "acquire")
def figures(path):
    s = pstats.Stats(path)
    calls = sum(v[1] for v in s.stats.values())
    total = sum(v[2] for v in s.stats.values())
    waiting = sum(v[2] for k, v in s.stats.items() if any(w == k[2] or k[2].endswith(f"'{w}' of") or k[2].startswith(f"<method '{w}'") or k[2] == w for w in WAIT) or k[2] in ("wait",) )
    proto = sum(v[2] for k, v in s.stats.items() if "_get_protocol_attrs" in k[2] or ("typing.py" in k[0] and "__instancecheck__" in k[2]))
    uuid5 = sum(v[3] for k, v in s.stats.items() if k[2] == "uuid5")
    return calls, total, waiting, proto, uuid5
for name in sys.argv[2:]:
    for tag in ("ab-before", "before", "after"):
        d = sys.argv[1].replace("TAG", tag)
        p = glob.glob(f"{d}/{name}.pstats")
        if not p: continue
        c, t, w, pr, u = figures(p[0])
        print(f"{name:<22} {tag:<6} calls {c:>8}  own time {t:6.2f}s  waits {w:6.2f}s  cpu {t-w:6.2f}s  protocol {pr:5.3f}s  uuid5 {u:5.3f}s")
