-- The data generation: one counter that every import which changes data bumps inside its own
-- transaction (src/schools/import/generation.ts). Cached values record the generation they were
-- built from, so a warmup can tell an unchanged value from one an import made outdated without
-- loading it again (docs/generations.md).
CREATE TABLE data_generation (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  generation bigint NOT NULL
);
INSERT INTO data_generation (only_row, generation) VALUES (true, 1);
