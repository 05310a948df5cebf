//! What users call to build and run a graph: [`Graph`](graph::Graph), its
//! typed [`Port`](port::Port)s and [`Options`](options::Options), and the
//! planner (`plan`) that turns a built graph into per-node plans.
//!
//! Owns: graph construction and analysis. May import every layer below:
//! `nodes`, `exec`, `protocol`, `data`, `api`, `sync`.

pub(crate) mod graph;
pub(crate) mod options;
pub(crate) mod plan;
pub(crate) mod port;
