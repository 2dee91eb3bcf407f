//! One module per subcommand: flags, and a `run` that calls the libraries.

pub mod collect;
pub mod connect;
pub mod graph;
pub mod plan;
pub mod schema;
pub mod seal;
pub mod show;
pub mod sim;
pub mod validate;
