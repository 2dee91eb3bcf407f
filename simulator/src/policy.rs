use crate::api::{ApiError, ApiResult, Req};
use crate::state::State;
pub fn route(_st: &mut State, req: &Req, _rest: &[&str]) -> ApiResult {
    Err(ApiError::not_found(&req.path))
}
