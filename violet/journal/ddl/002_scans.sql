-- The input side: every scan the reactor saw, accepted or rejected at the boundary.
CREATE TABLE IF NOT EXISTS {db}.scans
(
    run_id        String,
    scan_id       Int64,
    ts_us         Int64,
    vel_div       Float64,
    price         Array(Float64),
    score         Array(Float64),
    acb_boost     Float64,
    acb_beta      Float64,
    mc_scale      Float64,
    ob_mult       Float64,
    esof_score    Float64,
    dc_status     LowCardinality(String),
    posture       LowCardinality(String),
    capital       Float64,
    rejected      UInt8,
    reject_reason String
)
ENGINE = ReplacingMergeTree
ORDER BY (run_id, scan_id);
