"""Writes a round that `poolscreen generate` did not make, in shapes it never writes, so
that the comparison with DuckDB also runs on files shaped apart from ours: buildings of
very uneven sizes (a Pareto law, 20 to 20,000 people: a few estates, many small blocks), a roster
whose rooms interleave within a building (a room's two people four rows apart), rooms written
like 3-1-302, person_ids of four forms (18-character resident ID numbers, some ending in
X; a letter and nine digits; T- and digits; twelve digits), tube barcodes of three
letters and eleven digits, pools of 10 and of 20 side by side with a partial last tube
at each site, a site for every 15 buildings swabbing its queue over the day (buildings
in rough order, people shuffled within thirties) with rows by sampling time, a few rows saved twice,
people swabbed twice into two tubes, people off the roster, lab results re-run (two
rows for a tube, their Ct values differing), results in no order, tubes still without
a result, the roster's role column left out, CRLF line ends. Every row is valid:
the round is for speed and agreement, not for rejects. ORDER `tube` writes the same rows
grouped by tube instead (tubes in the order of their first swab, a tube's rows in time
order), the friendly export of the same round.
Usage: foreign.py DST PEOPLE SEED [time|tube]"""
import os
import random
import sys

out, people, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
order = sys.argv[4] if len(sys.argv) > 4 else "time"
if order not in ("time", "tube"):
    sys.exit(f"ORDER is time or tube, not {order}")
rng = random.Random(seed)
os.makedirs(out, exist_ok=True)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕鹏辉斌宇浩凯健俊帆帅旭宁龙林欣怡梓涵子轩浩然雨泽"

def id_number(n):
    body = f"{100000 + n // 1000:06d}{1960 + n % 50:04d}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]
    return body + check

def person_id(n):
    kind = n % 7
    if kind < 3:
        return id_number(n)  # 18 characters, some ending in X
    if kind < 5:
        return f"S{n:09d}"
    if kind == 5:
        return f"T-{n:07d}"
    return f"{2019 + n % 4}{n:08d}"

# Buildings of very uneven sizes.
buildings = []
left = people
b = 0
while left > 0:
    size = min(left, 20000, max(20, int(rng.paretovariate(1.2) * 150)))
    buildings.append((f"{rng.choice('东西南北')}区{b // 40 + 1}栋{b % 40 + 1}", size))
    left -= size
    b += 1

roster = []  # (pid, name, building, room, status)
n = 0
for name, size in buildings:
    for i in range(size):
        unit, floor, door = 1 + i // 120, 1 + (i // 8) % 15, 1 + i % 4
        room = "" if rng.random() < 0.01 else f"{unit}-{floor}-{floor}{door:02d}"
        status = "离校" if rng.random() < 0.02 else "在校"
        pname = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        roster.append((person_id(n), pname, name, room, status))
        n += 1

# Sites swab their queue of buildings; a queue is in rough building order, people
# shuffled within a window of 30.
sites = [f"采样点{i + 1}" for i in range(max(4, len(buildings) // 15))]
queues = {s: [] for s in sites}
arrivals = list(range(len(roster)))
for k in range(0, len(arrivals), 30):
    window = arrivals[k:k + 30]
    rng.shuffle(window)
    arrivals[k:k + 30] = window
site_of_building = {name: rng.choice(sites) for name, _ in buildings}
for p in arrivals:
    queues[site_of_building[roster[p][2]]].append(p)

samples = []  # (time, tube, pid, site)
tube_no = 0
start = 7 * 3600
for s, queue in queues.items():
    pool = 20 if rng.random() < 0.4 else 10
    opens = start + rng.randint(0, 1800)
    tube, filled = None, pool
    for k, p in enumerate(queue):
        # Swabs spread over the day, however long the queue: done by night.
        t = opens + k * 50000 // len(queue)
        if roster[p][4] == "离校" and rng.random() < 0.97:
            continue
        if rng.random() < 0.015:  # missed
            continue
        if filled == pool:
            tube_no += 1
            tube, filled = f"HS{rng.choice('ABCD')}{tube_no:011d}", 0
        samples.append((t, tube, roster[p][0], s))
        filled += 1
        if rng.random() < 0.002:  # swabbed again later into another tube
            samples.append((t + 3600, f"HSZ{tube_no:011d}", roster[p][0], s))
        if rng.random() < 0.0005:  # someone off the roster joins the queue
            samples.append((t + 1, tube, f"X{rng.randint(0, 10**8):08d}", s))
samples.sort(key=lambda r: r[0])
# An export saved twice in part: some rows repeated.
extra = [r for r in samples if rng.random() < 0.001]
samples += extra
samples.sort(key=lambda r: r[0])
if order == "tube":
    first = {}
    for k, r in enumerate(samples):
        first.setdefault(r[1], k)
    samples.sort(key=lambda r: first[r[1]])

tubes = sorted({r[1] for r in samples})
results = []
def ct():
    return f"{rng.uniform(15, 39.5):.1f}"
for tube in tubes:
    u = rng.random()
    if u < 0.01:
        continue  # no result yet
    rows = 2 if rng.random() < 0.02 else 1
    for _ in range(rows):
        v = rng.random()
        if v < 0.002:
            orf, nn, ic, call = ct(), ct(), ct(), "阳性"
        elif v < 0.004:
            orf, nn, ic, call = ct(), "", ct(), "可疑"
        elif v < 0.006:
            orf, nn, ic, call = "", "", "", "无效"
        else:
            orf, nn, ic, call = "", "", ct(), "阴性"
        results.append((tube, orf, nn, ic, call))
rng.shuffle(results)

def hms(t):
    return f"2022-05-03 {t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}"

with open(f"{out}/roster.csv", "w", encoding="utf-8", newline="") as f:
    f.write("学号,姓名,楼栋,宿舍号,学院,班级,手机号,辅导员,状态\r\n")
    for k, (pid, name, building, room, status) in enumerate(roster):
        phone = f"1{rng.choice('3589')}{rng.randint(0, 10**9 - 1):09d}"
        f.write(f"{pid},{name},{building},{room},学院{k % 17},{2019 + k % 4}级{k % 30}班,{phone},辅导员{k % 211},{status}\r\n")
with open(f"{out}/samples.csv", "w", encoding="utf-8", newline="") as f:
    f.write("试管编号,学号,采样时间,采样点\r\n")
    for t, tube, pid, site in samples:
        f.write(f"{tube},{pid},{hms(t)},{site}\r\n")
with open(f"{out}/results.csv", "w", encoding="utf-8", newline="") as f:
    f.write("试管编号,ORF1ab,N,内参,检测结果,检测时间\r\n")
    for tube, orf, nn, ic, call in results:
        f.write(f"{tube},{orf},{nn},{ic},{call},2022-05-03 23:30:00\r\n")
print(len(roster), "people,", len(buildings), "buildings,", len(samples), "sample rows,", len(results), "result rows")
