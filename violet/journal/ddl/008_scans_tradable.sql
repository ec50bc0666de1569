-- The per-asset tradable mask of each scan (a changing universe: false where the asset has no price or
-- no score on that scan; `violet journal verify` reads it back as the graph's input). Added to journals
-- created before it existed; a scans table without the column journals every asset as tradable.
ALTER TABLE {db}.scans
    ADD COLUMN IF NOT EXISTS tradable Array(Bool) DEFAULT []
