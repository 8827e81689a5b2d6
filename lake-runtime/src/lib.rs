//! lake runtime: stores, the local cache and the commit protocol of lake.

pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
