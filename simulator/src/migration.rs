use crate::SimConfig;
use crate::api::{ApiError, Reply, Req};
use crate::faults::MigrationFaults;
use crate::state::State;
use serde_json::Value;
use std::time::Duration;
#[derive(Debug, Default)]
pub struct MigrationState {}
impl MigrationState {
    pub fn dump(&self) -> Value {
        Value::Null
    }
    pub fn restore(_v: &Value) -> Result<Self, String> {
        Ok(Self::default())
    }
}
pub fn tick(_st: &mut State, _cfg: &SimConfig, _f: &MigrationFaults) {}
pub fn route(
    _st: &mut State,
    _cfg: &SimConfig,
    req: &Req,
    _rest: &[&str],
    _f: &MigrationFaults,
) -> Result<(Reply, Duration), ApiError> {
    Err(ApiError::not_found(&req.path))
}
