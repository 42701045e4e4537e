//! Transport facts about a request: who sent it, through which proxies, over which scheme,
//! and under which id.

pub mod https;
pub mod proxies;
pub mod request_id;
