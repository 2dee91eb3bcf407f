use crate::api::{ApiError, ApiResult, Req};
use crate::state::State;
pub fn search_mp(_st: &State, req: &Req) -> ApiResult {
    Err(ApiError::not_found(&req.path))
}
