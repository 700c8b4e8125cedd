-- The DuckDB reference: the heavy work of `poolscreen run` on a generated round
-- (clean files, Chinese headers, one round), written to Parquet in the current folder.
-- Run by run.sh as: duckdb_run.py reference.sql DATA_DIR OUT_DIR
SET preserve_insertion_order = false;

CREATE TEMP TABLE roster AS
SELECT "学号" AS person_id, "姓名" AS name, "楼栋" AS building, "宿舍号" AS room,
       "学院" AS college, "班级" AS class, "手机号" AS phone, "辅导员" AS counselor,
       "状态" AS status
FROM read_csv('{data}/roster.csv', header = true, all_varchar = true);

CREATE TEMP TABLE samples AS
SELECT "试管编号" AS tube_id, "学号" AS person_id,
       strptime("采样时间", '%Y-%m-%d %H:%M:%S') AS sampled_at, "采样点" AS site
FROM read_csv('{data}/samples.csv', header = true, all_varchar = true);

-- Class per result row: 4 positive, 3 suspect, 2 invalid, 0 negative; the lab call
-- counts when more severe.
CREATE TEMP TABLE result_rows AS
WITH r AS (
  SELECT "试管编号" AS tube_id,
         coalesce(TRY_CAST("ORF1ab" AS DOUBLE) <= 40, false) AS d_orf,
         coalesce(TRY_CAST("N" AS DOUBLE) <= 40, false) AS d_n,
         coalesce(TRY_CAST("内参" AS DOUBLE) <= 40, false) AS d_ic,
         "检测结果" AS call,
         TRY_CAST("ORF1ab" AS DOUBLE) AS ct_orf1ab, TRY_CAST("N" AS DOUBLE) AS ct_n
  FROM read_csv('{data}/results.csv', header = true, all_varchar = true)
)
SELECT tube_id, ct_orf1ab, ct_n,
       greatest(CASE WHEN d_orf AND d_n THEN 4 WHEN d_orf OR d_n THEN 3 WHEN NOT d_ic THEN 2 ELSE 0 END,
                CASE call WHEN '阳性' THEN 4 WHEN '可疑' THEN 3 WHEN '无效' THEN 2 ELSE 0 END) AS cls
FROM r;

CREATE TEMP TABLE tubes AS
WITH members AS (SELECT DISTINCT tube_id, person_id FROM samples),
     sized AS (SELECT tube_id, count(*) AS tube_size FROM members GROUP BY tube_id),
     first AS (SELECT tube_id, min(sampled_at) AS first_sampled_at FROM samples GROUP BY tube_id),
     cls AS (SELECT tube_id, max(cls) AS cls, arg_max(ct_orf1ab, cls) AS ct_orf1ab, arg_max(ct_n, cls) AS ct_n
             FROM result_rows GROUP BY tube_id)
SELECT s.tube_id, s.tube_size, coalesce(c.cls, 1) AS cls, c.ct_orf1ab, c.ct_n, f.first_sampled_at
FROM sized s JOIN first f USING (tube_id) LEFT JOIN cls c USING (tube_id);

CREATE TEMP TABLE retest AS
WITH candidates AS (
  SELECT DISTINCT s.person_id, t.tube_id, t.tube_size, t.cls, t.ct_orf1ab, t.ct_n,
         CASE WHEN t.cls = 4 AND t.tube_size = 1 THEN 0 WHEN t.cls = 4 THEN 1 WHEN t.cls = 3 THEN 2 ELSE 3 END AS rank
  FROM samples s JOIN tubes t USING (tube_id)
  WHERE t.cls >= 2
), best AS (
  SELECT person_id, arg_min(tube_id, (rank, tube_id)) AS tube_id, min(rank) AS rank
  FROM candidates GROUP BY person_id
)
SELECT b.rank, b.person_id, r.name, r.building, r.room, r.college, r.class, r.phone, r.counselor,
       c.tube_id, c.tube_size, c.cls, c.ct_orf1ab, c.ct_n
FROM best b JOIN candidates c ON c.person_id = b.person_id AND c.tube_id = b.tube_id
LEFT JOIN roster r ON r.person_id = b.person_id;

CREATE TEMP TABLE missing AS
SELECT r.* FROM roster r
WHERE r.status <> '离校' AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.person_id = r.person_id);

CREATE TEMP TABLE buildings AS
WITH people AS (
  SELECT r.building, r.status <> '离校' AS expected,
         EXISTS (SELECT 1 FROM samples s WHERE s.person_id = r.person_id) AS sampled
  FROM roster r
), building_tubes AS (
  SELECT DISTINCT r.building, t.tube_id, t.cls
  FROM samples s JOIN roster r USING (person_id) JOIN tubes t USING (tube_id)
), retested AS (
  SELECT r.building, count(DISTINCT x.person_id) AS to_retest
  FROM retest x JOIN roster r USING (person_id) GROUP BY r.building
)
SELECT p.building,
       count(*) FILTER (WHERE p.expected) AS expected,
       count(*) FILTER (WHERE NOT p.expected) AS on_leave,
       count(*) FILTER (WHERE p.expected AND p.sampled) AS sampled,
       count(*) FILTER (WHERE p.expected AND NOT p.sampled) AS missing,
       (SELECT count(*) FROM building_tubes b WHERE b.building = p.building) AS tubes,
       (SELECT count(*) FROM building_tubes b WHERE b.building = p.building AND b.cls = 4) AS positive_tubes,
       (SELECT count(*) FROM building_tubes b WHERE b.building = p.building AND b.cls = 3) AS suspect_tubes,
       coalesce((SELECT to_retest FROM retested x WHERE x.building = p.building), 0) AS to_retest
FROM people p GROUP BY p.building;

COPY (SELECT * FROM buildings ORDER BY building) TO '{out}/buildings.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT * FROM retest ORDER BY rank, building, room, person_id) TO '{out}/retest.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT * FROM missing ORDER BY building, room, person_id) TO '{out}/missing.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT * FROM tubes ORDER BY tube_id) TO '{out}/tubes.parquet' (FORMAT parquet, COMPRESSION zstd);
