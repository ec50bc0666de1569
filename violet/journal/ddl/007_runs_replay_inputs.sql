-- What a run needs besides its scans to be recomputed from the journal alone (`violet journal verify`):
-- the graph's universe inputs, and whether exits were also checked between scans (which changes the
-- position state outside the journaled scans). Added to journals created before these columns existed.
ALTER TABLE {db}.runs
    ADD COLUMN IF NOT EXISTS universe_inputs String DEFAULT '',  -- JSON: universe input name -> per-asset values
    ADD COLUMN IF NOT EXISTS exit_q_us Int64 DEFAULT 0           -- 0: exits checked on scans only
