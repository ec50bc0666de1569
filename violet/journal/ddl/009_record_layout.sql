-- A decision graph's decisions and trades tables are generated from its outputs (every output one typed
-- column: violet/runtime/record.py) and named by the layout's key: `decisions_<layout>`, `trades_<layout>`.
-- A run records its layout; an order intent records whether it closes a position (side BUY or SELL).
ALTER TABLE {db}.runs
    ADD COLUMN IF NOT EXISTS layout String DEFAULT '',        -- the record layout's key
    ADD COLUMN IF NOT EXISTS action_output String DEFAULT ''  -- the outputs the record names as its lanes' actions, comma-separated
