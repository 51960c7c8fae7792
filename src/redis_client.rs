//! What the service's Redis clients (the list source and the query register) share.

use redis::IntoConnectionInfo;

/// A client for `url` whose connections skip `CLIENT SETINFO` (a label for `CLIENT LIST`) in
/// their handshake: its reply is waited for on its own, so connecting to a Redis that does
/// not answer would take twice the connect timeout.
pub fn open(url: &str) -> redis::RedisResult<redis::Client> {
    let info = url.into_connection_info()?;
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    redis::Client::open(info.set_redis_settings(settings))
}
