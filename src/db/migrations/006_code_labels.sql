-- One label table: the { en, zh } of every coded value, keyed by the API's filter field name
-- (district, schoolNet, banding...) and code. Every read joins it: list items and details
-- (src/schools/list-query.ts, repository.ts) and, through school_filter_codes, the filter
-- options, stats and facet counts. Before it, the school net and band labels were written in
-- three places and disagreed (filter options said `41 校網 (area)`, list items `41 校網`).
--
-- The import still stores each row's labels beside its codes (the EDB file's own words); this
-- table is refreshed from them, from school_nets and for the fixed set of bands, by
-- refresh_school_facets(), which every writer of those tables already calls in its transaction.
CREATE TABLE code_labels (
  field  text NOT NULL,
  code   text NOT NULL,
  en     text NOT NULL,
  zh     text NOT NULL,
  PRIMARY KEY (field, code)
);

-- min() picks one label where a code's rows disagree (they do not in the bundled data).
CREATE FUNCTION refresh_code_labels() RETURNS void LANGUAGE sql AS $$
  LOCK TABLE code_labels IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM code_labels;
  INSERT INTO code_labels (field, code, en, zh)
  SELECT f.field, f.code, min(f.en), min(f.zh)
  FROM schools s
  CROSS JOIN LATERAL (VALUES
    ('district', s.district, s.district_en, s.district_zh),
    ('category', s.category, s.category_en, s.category_zh),
    ('schoolGroup', s.school_group, s.school_group_en, s.school_group_zh),
    ('gender', s.gender, s.gender_en, s.gender_zh),
    ('religion', s.religion, s.religion_en, s.religion_zh),
    ('session', s.session, s.session_en, s.session_zh)
  ) AS f (field, code, en, zh)
  GROUP BY f.field, f.code
  UNION ALL
  SELECT 'schoolNet', n.net, 'School Net ' || n.net, n.net || ' 校網 (' || n.area_zh || ')' FROM school_nets n
  UNION ALL
  -- Every band an operator may import (1, 1a ... 3c): the labels of bandLabel() in
  -- src/schools/codes.ts (the tests hold them equal).
  SELECT 'banding', b.code, 'Band ' || upper(b.code),
    '第' || (ARRAY['一', '二', '三'])[left(b.code, 1)::int] || '組別' || CASE WHEN length(b.code) > 1 THEN ' ' || upper(b.code) ELSE '' END
  FROM (SELECT band || letter AS code FROM unnest(ARRAY['1', '2', '3']) AS band, unnest(ARRAY['', 'a', 'b', 'c']) AS letter) AS b;
$$;

-- A school's filter codes, now labelled from code_labels (same columns as before).
CREATE OR REPLACE VIEW school_filter_codes AS
  SELECT s.level, s.school_no, f.field, f.code, l.en, l.zh
  FROM schools s
  LEFT JOIN secondary_banding b ON b.school_no = s.school_no
  CROSS JOIN LATERAL (VALUES
    ('district', s.district),
    ('schoolNet', s.school_net),
    ('category', s.category),
    ('schoolGroup', s.school_group),
    ('gender', s.gender),
    ('religion', s.religion),
    ('session', s.session),
    ('banding', b.band)
  ) AS f (field, code)
  JOIN code_labels l ON l.field = f.field AND l.code = f.code
  WHERE f.code IS NOT NULL;

-- The labels first, then the counts that read them through the view.
CREATE OR REPLACE FUNCTION refresh_school_facets() RETURNS void LANGUAGE sql AS $$
  SELECT refresh_code_labels();
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
