-- Where the shadow and the reference part ways, with attribution: the first breakdown field
-- that differs and both values (and their bit patterns).
CREATE TABLE IF NOT EXISTS {db}.divergences
(
    run_id          String,
    scan_id         Int64,
    kind            LowCardinality(String),   -- DECISION or TRADE
    field           String,
    shadow_value    String,
    reference_value String,
    shadow_bits     String,
    reference_bits  String
)
ENGINE = ReplacingMergeTree
ORDER BY (run_id, scan_id, kind, field);
