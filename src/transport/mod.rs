//! Transport facts about a request: who sent it, through which proxies, over which scheme.

pub mod proxies;
