-- One decision per accepted scan: the whole breakdown, bit for bit (Float64, never rounded),
-- and the content hash of the graph that decided.
CREATE TABLE IF NOT EXISTS {db}.decisions
(
    run_id       String,
    scan_id      Int64,
    ts_us        Int64,
    graph_hash   String,
    action       LowCardinality(String),
    reason       LowCardinality(String),
    entry_reason LowCardinality(String),
    asset        Int64,
    symbol       String,
    selected     Int64,
    pos_asset    Int64,
    s            Float64,
    base         Float64,
    dc           Float64,
    regime       Float64,
    ob_mult      Float64,
    esof         Float64,
    raw          Float64,
    cmax         Float64,
    leverage     Float64,
    notional     Float64,
    exch_lev     Int64,
    margin       Float64,
    exit         UInt8,
    exit_reason  LowCardinality(String),
    pnl          Float64,
    bars_held    Int64,
    peak_pnl     Float64,
    latency_us   Float64
)
ENGINE = ReplacingMergeTree
ORDER BY (run_id, scan_id);
