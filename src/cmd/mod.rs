//! One module per subcommand: flags, and a `run` that calls the libraries.

pub mod apply;
pub mod audit;
pub mod cf;
pub mod collect;
pub mod connect;
pub mod demo;
pub mod demo_vio;
pub mod force_unlock;
pub mod graph;
pub mod plan;
pub mod rollback;
pub mod schema;
pub mod seal;
pub mod show;
pub mod sim;
pub mod status;
pub mod validate;
