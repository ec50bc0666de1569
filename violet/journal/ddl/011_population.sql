-- A live population (violet replay --population): one row per parameter instance of the run's decision
-- graph, its figures aggregated over the run (the run's own parameters are the designated instance,
-- journaled in full in the decisions and trades tables). Written at the end of the run; a resumed run
-- recomputes them from its first scan and writes them again (the key collapses the repeat).
CREATE TABLE IF NOT EXISTS {db}.population
(
    run_id     String,
    instance   Int64,
    params     String,    -- JSON: each swept parameter's value for this instance
    scans      Int64,     -- scans decided
    entries    Int64,     -- decisions whose action opens a position
    trades     Int64,     -- trades closed
    wins       Int64,     -- trades closed with pnl > 0
    pnl        Float64    -- sum of the closed trades' pnl, in scan order
)
ENGINE = ReplacingMergeTree
ORDER BY (run_id, instance);
