//! One module per subcommand: flags, and a `run` that calls the libraries.

pub mod graph;
pub mod plan;
pub mod schema;
pub mod seal;
pub mod show;
pub mod validate;
