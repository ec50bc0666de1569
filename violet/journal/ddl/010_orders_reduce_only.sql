-- An intent that closes a position (a long's SELL, a short's BUY) is reduce-only; an entry is not.
ALTER TABLE {db}.orders
    ADD COLUMN IF NOT EXISTS reduce_only UInt8 DEFAULT 0
