"""Legacy forms: the reference model written as a trading engine writes it.

These modules are the stand-in for BLUE's own kernels (ALPHA_SPEC.md,
"The project keeps this model twice"). They are plain imperative Python on
purpose, independent of the compiler, and serve as `--reference` of
`violet diff`.
"""
