//! The sync: which accounts, with which role (`plan`), and the engine that reads them
//! concurrently and streams records to the sinks (`engine`). What is read per AWS domain lives
//! in `connector`.

pub mod engine;
pub mod plan;
