-- Measured with `npm run bench -- --scale 100` (131,600 synthetic rows):
-- gender, religion and session are list filters like the others but had no index, so a list
-- filtered by a rare value of one of them (religion=islam) scanned every row of the level;
-- with these it reads the matching rows, in list order, like the district or category filters.
CREATE INDEX schools_level_gender ON schools (level, gender, name_en COLLATE "C", school_no);
CREATE INDEX schools_level_religion ON schools (level, religion, name_en COLLATE "C", school_no);
CREATE INDEX schools_level_session ON schools (level, session, name_en COLLATE "C", school_no);

-- A school's detail lists the other rows of the same school (sameSchoolRows, by school_id):
-- without an index that is a scan of the whole table per detail, so warming every detail grew
-- with the square of the rows (160 ms per detail at x100; 8 ms with the index).
CREATE INDEX schools_school_id ON schools (school_id);
