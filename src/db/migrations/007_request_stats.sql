-- Request statistics (src/traffic): per hour, how often each canonical key was read
-- successfully, written by every instance (counts are added), kept REQUEST_STATS_RETENTION_DAYS
-- days. At most REQUEST_STATS_KEYS_PER_HOUR keys per hour are kept (the most requested).
CREATE TABLE request_key_counts (
  hour           timestamptz NOT NULL,
  key            text NOT NULL,
  request_class  text NOT NULL,
  requests       bigint NOT NULL,
  misses         bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, key)
);
CREATE INDEX request_key_counts_key ON request_key_counts (key);
-- Per hour and request class: requests, how many were answered from cache, how many asked for a
-- key of the warm set. A handful of rows per hour.
CREATE TABLE request_class_counts (
  hour           timestamptz NOT NULL,
  request_class  text NOT NULL,
  requests       bigint NOT NULL,
  cached         bigint NOT NULL,
  warm           bigint NOT NULL,
  PRIMARY KEY (hour, request_class)
);
-- The learned warm set the last learned warmup chose, and the keys it dropped (with why).
CREATE TABLE warm_learned_keys (
  key            text PRIMARY KEY,
  request_class  text NOT NULL,
  requests       bigint NOT NULL,
  state          text NOT NULL CHECK (state IN ('warm', 'dropped')),
  reason         text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
