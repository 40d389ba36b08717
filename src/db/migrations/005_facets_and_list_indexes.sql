-- Measured on `npm run bench -- --scale 100` data (131,600 rows): reads that cost in proportion
-- to the table instead of the page. Two parts: precomputed counts, and list indexes that cover
-- the filter columns.
--
-- Filter options, stats and unfiltered or single-field list totals are counts over every row of
-- a level; computed on each call they grew with the table (at x100, 131,600 rows: 300 ms per
-- filter-options level, 150 ms for stats, 340 ms for the unfiltered list, mostly its count).
-- The counts only change when an import changes schools, school nets or banding, so they are
-- computed then, in the import's transaction, and read from here.
--
-- One row per (level, filter field, code) with the labels the API serves (the filter field
-- names are the API's: district, schoolNet, banding...), plus one row per level with field
-- '_total' and code '' counting every row of the level.
CREATE TABLE school_facets (
  level  text NOT NULL,
  field  text NOT NULL,
  code   text NOT NULL,
  en     text NOT NULL,
  zh     text NOT NULL,
  count  integer NOT NULL,
  PRIMARY KEY (level, field, code)
);

-- The same for every pair of filter fields (field_a < field_b in byte order): the totals of
-- two-filter lists, and the combinations the warmup derives its list pages from
-- (src/schools/warm-targets.ts). A few thousand rows, whatever the number of schools.
CREATE TABLE school_facet_pairs (
  level    text NOT NULL,
  field_a  text NOT NULL,
  code_a   text NOT NULL,
  field_b  text NOT NULL,
  code_b   text NOT NULL,
  count    integer NOT NULL,
  PRIMARY KEY (level, field_a, code_a, field_b, code_b)
);

-- The only definition of a school's filter codes: one row per (school, filter field) with the
-- code and the labels the API serves. NULL codes (no school net, no band) are not options.
CREATE VIEW school_filter_codes AS
  SELECT s.level, s.school_no, f.field, f.code, f.en, f.zh
  FROM schools s
  LEFT JOIN secondary_banding b ON b.school_no = s.school_no
  LEFT JOIN school_nets n ON n.net = s.school_net
  CROSS JOIN LATERAL (VALUES
    ('district', s.district, s.district_en, s.district_zh),
    ('schoolNet', s.school_net, 'School Net ' || s.school_net, s.school_net || ' 校網 (' || n.area_zh || ')'),
    ('category', s.category, s.category_en, s.category_zh),
    ('schoolGroup', s.school_group, s.school_group_en, s.school_group_zh),
    ('gender', s.gender, s.gender_en, s.gender_zh),
    ('religion', s.religion, s.religion_en, s.religion_zh),
    ('session', s.session, s.session_en, s.session_zh),
    -- The labels of bandLabel() in src/schools/codes.ts (the tests hold them equal).
    ('banding', b.band, 'Band ' || upper(b.band),
      '第' || (ARRAY['一', '二', '三'])[left(b.band, 1)::int] || '組別' || CASE WHEN length(b.band) > 1 THEN ' ' || upper(b.band) ELSE '' END)
  ) AS f (field, code, en, zh)
  WHERE f.code IS NOT NULL;

-- The only definition of the counts: every writer of schools, school_nets or secondary_banding
-- calls it in its transaction (src/schools/facets.ts), and this migration fills the tables for a
-- database that already holds data. min() picks one label where a code's rows disagree (they do
-- not in the bundled data).
--
-- The lock makes concurrent refreshes (two imports at once) take turns, so the second one's
-- DELETE sees and removes what the first inserted instead of failing on the primary key. It does
-- not block readers.
CREATE FUNCTION refresh_school_facets() RETURNS void LANGUAGE sql AS $$
  LOCK TABLE school_facets, school_facet_pairs IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM school_facets;
  DELETE FROM school_facet_pairs;
  INSERT INTO school_facets (level, field, code, en, zh, count)
  SELECT level, field, code, min(en), min(zh), count(*)::int FROM school_filter_codes GROUP BY level, field, code
  UNION ALL
  SELECT level, '_total', '', '', '', count(*)::int FROM schools GROUP BY level;
  INSERT INTO school_facet_pairs (level, field_a, code_a, field_b, code_b, count)
  SELECT a.level, a.field, a.code, b.field, b.code, count(*)::int
  FROM school_filter_codes a JOIN school_filter_codes b ON b.school_no = a.school_no AND a.field < b.field COLLATE "C"
  GROUP BY a.level, a.field, a.code, b.field, b.code;
$$;

SELECT refresh_school_facets();

-- The list page is picked by walking one of these indexes in page order (name_en, school_no):
-- the field's own index when a field has one code, else the level's (src/schools/list-query.ts).
-- Any other filter is checked on each entry walked until the page is full, and a count over two
-- fields or more reads every entry of one field's code. With the other filter columns in the
-- index, both need no table row: at x100, schoolGroup=aided-primary-schools&session=whole-day
-- counted 42,500 rows with a parallel table scan in 52 ms, index-only in 15 ms; every two-filter
-- list page 1 (1,380 of them) took 12 s in all before these indexes, 6.5 s with them. Each index
-- is about 15% larger. Banding lives in its own table and q is a LIKE on every row of the level,
-- so neither can be covered here.
DROP INDEX schools_level_order;
DROP INDEX schools_level_district;
DROP INDEX schools_level_category;
DROP INDEX schools_level_group;
DROP INDEX schools_level_net;
DROP INDEX schools_level_gender;
DROP INDEX schools_level_religion;
DROP INDEX schools_level_session;
CREATE INDEX schools_level_order ON schools (level, name_en COLLATE "C", school_no) INCLUDE (district, category, school_group, gender, religion, session, school_net);
CREATE INDEX schools_level_district ON schools (level, district, name_en COLLATE "C", school_no) INCLUDE (category, school_group, gender, religion, session, school_net);
CREATE INDEX schools_level_category ON schools (level, category, name_en COLLATE "C", school_no) INCLUDE (district, school_group, gender, religion, session, school_net);
CREATE INDEX schools_level_group ON schools (level, school_group, name_en COLLATE "C", school_no) INCLUDE (district, category, gender, religion, session, school_net);
CREATE INDEX schools_level_net ON schools (level, school_net, name_en COLLATE "C", school_no) INCLUDE (district, category, school_group, gender, religion, session);
CREATE INDEX schools_level_gender ON schools (level, gender, name_en COLLATE "C", school_no) INCLUDE (district, category, school_group, religion, session, school_net);
CREATE INDEX schools_level_religion ON schools (level, religion, name_en COLLATE "C", school_no) INCLUDE (district, category, school_group, gender, session, school_net);
CREATE INDEX schools_level_session ON schools (level, session, name_en COLLATE "C", school_no) INCLUDE (district, category, school_group, gender, religion, school_net);
