-- mist's MTTP NDJSON in ClickHouse: one row per envelope, the payload kept as a JSON string
-- (insert with SETTINGS input_format_json_read_objects_as_strings = 1). Queries read the payload's
-- fields with JSONExtract*; for heavy use, add materialized columns for the fields you group by.
CREATE TABLE IF NOT EXISTS mist_spans
(
    version      String,
    id           String,
    source       LowCardinality(String),
    type         LowCardinality(String),
    timestamp_ns UInt64,
    payload      String
)
ENGINE = MergeTree
ORDER BY (type, timestamp_ns);
