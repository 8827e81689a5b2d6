//! lake runtime
