//! The benchmark suite behind `kiln bench`.
pub mod measure;
pub mod report;
