-- One row per replay or live run: what ran, on what, with which graph.
CREATE TABLE IF NOT EXISTS {db}.runs
(
    run_id      String,
    started_us  Int64,
    graph       String,
    graph_hash  String,
    source      String,
    mode        LowCardinality(String),   -- DARK (observe-only) or LIVE
    params      String,                   -- JSON of the effective parameters
    universe    Array(String)             -- symbols, index = asset
)
ENGINE = ReplacingMergeTree
ORDER BY run_id;
