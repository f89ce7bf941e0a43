"""Generate the Python and Rust encoders/types from ``schema/mttp.schema.json``.

``python -m codegen`` rewrites the generated files; ``python -m codegen --check`` exits 1 when any
committed file differs from what the schema produces (CI runs it).
"""
