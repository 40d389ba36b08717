-- Schools from the EDB "School Location and Information" file: one row per EDB row
-- (a school at one site and session). Coded values are stored as stable lowercase codes
-- with their English and Chinese labels beside them, so a list query needs no join.
CREATE TABLE school_nets (
  net         text PRIMARY KEY,
  area_zh     text NOT NULL,
  webpage     text
);

CREATE TABLE schools (
  school_no        text PRIMARY KEY CHECK (school_no ~ '^[0-9]{12}$'),
  school_id        text NOT NULL CHECK (school_id ~ '^[0-9]{6}$'),
  level            text NOT NULL CHECK (level IN ('primary', 'secondary', 'kindergarten')),
  name_en          text NOT NULL,
  name_zh          text NOT NULL,
  address_en       text,
  address_zh       text,
  district         text NOT NULL,
  district_en      text NOT NULL,
  district_zh      text NOT NULL,
  category         text NOT NULL,
  category_en      text NOT NULL,
  category_zh      text NOT NULL,
  school_group     text NOT NULL,
  school_group_en  text NOT NULL,
  school_group_zh  text NOT NULL,
  gender           text NOT NULL,
  gender_en        text NOT NULL,
  gender_zh        text NOT NULL,
  session          text NOT NULL,
  session_en       text NOT NULL,
  session_zh       text NOT NULL,
  religion         text NOT NULL,
  religion_en      text NOT NULL,
  religion_zh      text NOT NULL,
  phone            text,
  fax              text,
  website          text,
  latitude         double precision,
  longitude        double precision,
  easting          double precision,
  northing         double precision,
  school_net       text REFERENCES school_nets (net),
  -- lower-cased English and Chinese names, for the `q` search
  search_name      text NOT NULL
);

-- The list endpoints filter by level plus any of these and order by (name_en, school_no) in
-- byte order (COLLATE "C"), so PostgreSQL and PGlite return the same order whatever their locale.
CREATE INDEX schools_level_order ON schools (level, name_en COLLATE "C", school_no);
CREATE INDEX schools_level_district ON schools (level, district, name_en COLLATE "C", school_no);
CREATE INDEX schools_level_category ON schools (level, category, name_en COLLATE "C", school_no);
CREATE INDEX schools_level_group ON schools (level, school_group, name_en COLLATE "C", school_no);
CREATE INDEX schools_level_net ON schools (level, school_net, name_en COLLATE "C", school_no);

-- Primary School Profiles (CHSC): a typed subset plus every other column kept as JSON.
CREATE TABLE school_profiles (
  school_no            text PRIMARY KEY REFERENCES schools (school_no) ON DELETE CASCADE,
  profile_name_zh      text NOT NULL,
  sponsoring_body      text,
  founded_year         integer,
  motto                text,
  medium_of_instruction text,
  email                text,
  school_area_m2       integer,
  tuition_fee          text,
  pta_fee              text,
  through_train_secondary text,
  feeder_secondary     text,
  linked_secondary     text,
  classrooms           integer,
  halls                integer,
  playgrounds          integer,
  libraries            integer,
  approved_teachers    integer,
  total_teachers       integer,
  classes_this_year    integer,
  school_bus           text,
  extra                jsonb NOT NULL
);

-- Operator-supplied overlays. Nothing is shipped; the import commands fill them.
CREATE TABLE secondary_banding (
  school_no   text PRIMARY KEY REFERENCES schools (school_no) ON DELETE CASCADE,
  band        text NOT NULL CHECK (band ~ '^[1-3][a-c]?$'),
  source      text NOT NULL,
  imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX secondary_banding_band ON secondary_banding (band);

CREATE TABLE application_windows (
  school_no   text NOT NULL REFERENCES schools (school_no) ON DELETE CASCADE,
  opens_at    timestamptz NOT NULL,
  closes_at   timestamptz NOT NULL,
  source      text NOT NULL,
  PRIMARY KEY (school_no, opens_at),
  CHECK (closes_at > opens_at)
);
CREATE INDEX application_windows_open ON application_windows (opens_at, closes_at);

-- One row per import, to answer "what was loaded and when" and to skip identical re-imports.
CREATE TABLE imports (
  id          bigserial PRIMARY KEY,
  kind        text NOT NULL,
  file        text NOT NULL,
  sha256      text NOT NULL,
  rows        integer NOT NULL,
  summary     jsonb NOT NULL,
  imported_at timestamptz NOT NULL DEFAULT now()
);
