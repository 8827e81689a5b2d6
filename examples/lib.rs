//! Demo pipelines for lake; see `examples/`.
