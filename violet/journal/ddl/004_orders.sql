-- Order intents and what became of them: RECORDED_NOT_SENT (observe-only), ACKED, FILLED,
-- REJECTED, EXPIRED (no ack within the TTL).
CREATE TABLE IF NOT EXISTS {db}.orders
(
    run_id     String,
    intent_id  String,
    scan_id    Int64,
    ts_us      Int64,
    side       LowCardinality(String),
    asset      Int64,
    symbol     String,
    leverage   Float64,
    notional   Float64,
    status     LowCardinality(String),
    detail     String,
    latency_us Float64
)
ENGINE = ReplacingMergeTree
ORDER BY (run_id, intent_id, status);
