"""Legacy-style references of the example graphs (graphs/examples/): what a desk's own engine would be.

Each is plain imperative Python with mutable state, sharing no code with the compiler or the node
library, and is the `--reference` of `violet diff graphs/examples/<name>.toml` (docs/graph-files.md,
"Worked examples"). Like BLUE's engine, each class is built with the universe columns (and parameters)
as keywords, and `on_scan(**scan)` returns the scan's record.
"""
