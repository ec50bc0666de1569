-- Closed trades: the shadow's own (source = 'shadow') and the reference stream it is compared with.
CREATE TABLE IF NOT EXISTS {db}.trades
(
    run_id     String,
    source     LowCardinality(String),
    entry_scan Int64,
    exit_scan  Int64,
    asset      Int64,
    symbol     String,
    reason     LowCardinality(String),
    leverage   Float64,
    notional   Float64,
    pnl        Float64
)
ENGINE = ReplacingMergeTree
ORDER BY (run_id, source, entry_scan);
