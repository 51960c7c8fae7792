//! What the service's Redis clients (the list source and the query register) share: the one
//! place that reads a Redis URL and opens connections, whatever the topology behind it.
//!
//! - `redis://[[USER]:PASSWORD@]HOST:PORT[/DB]` and `rediss://…`: one server;
//! - `redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT…]/MASTER_NAME[/DB]`: the master
//!   the sentinels name, asked anew on every connect, all of them within the connect timeout;
//!   the user, password and db are the master's (the sentinels are asked without);
//! - `redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT…]`: a Redis Cluster, found from
//!   any of the nodes given.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{
    ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError, RedisResult, Role,
    Value,
};

const SENTINEL_SCHEME: &str = "redis+sentinel://";
const CLUSTER_SCHEME: &str = "redis+cluster://";

/// Whether `text` names Redis in one of the forms [`RedisClient::open`] reads.
pub fn is_redis_url(text: &str) -> bool {
    ["redis://", "rediss://", SENTINEL_SCHEME, CLUSTER_SCHEME]
        .iter()
        .any(|scheme| text.starts_with(scheme))
}

/// Whether `url` names a topology with replicas to fail over to: sentinels or a cluster.
pub fn is_replicated_url(url: &str) -> bool {
    url.starts_with(SENTINEL_SCHEME) || url.starts_with(CLUSTER_SCHEME)
}

/// `url` without the user and password it may carry, for logs and `/v1/status`.
pub fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Opens connections to the Redis a URL names. Does not connect until asked.
pub struct RedisClient(Target);

enum Target {
    Single(redis::Client),
    Sentinel(Sentinels),
    /// The nodes to start from; the crate's client is built with each connection's timeouts.
    Cluster(Vec<ConnectionInfo>),
}

/// A connection to a single server (the one named, or the master the sentinels named) or to
/// a cluster, which routes each command to the node that holds its keys.
pub enum Connection {
    Single(redis::Connection),
    Cluster(Box<ClusterConnection>),
}

impl RedisClient {
    /// Reads `url`; fails on a malformed one or an unknown scheme.
    pub fn open(url: &str) -> RedisResult<RedisClient> {
        if let Some(rest) = url.strip_prefix(SENTINEL_SCHEME) {
            return sentinel(rest).map(|sentinels| RedisClient(Target::Sentinel(sentinels)));
        }
        if let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) {
            return cluster(rest).map(|nodes| RedisClient(Target::Cluster(nodes)));
        }
        Ok(RedisClient(Target::Single(single(
            url.into_connection_info()?,
        )?)))
    }

    /// A new connection: connecting may take `timeout`, each write to the socket too, and each
    /// reply `reply`. Through sentinels, the master they name now is asked whether it still is
    /// one (`ROLE`) on the connection itself, so a demoted master is never written to.
    pub fn connect(&self, timeout: Duration, reply: Duration) -> RedisResult<Connection> {
        let connection = match &self.0 {
            Target::Single(client) => {
                Connection::Single(client.get_connection_with_timeout(timeout)?)
            }
            Target::Sentinel(sentinels) => {
                let mut connection =
                    single(sentinels.master(timeout)?)?.get_connection_with_timeout(timeout)?;
                connection.set_read_timeout(Some(timeout))?;
                if !matches!(
                    redis::cmd("ROLE").query(&mut connection)?,
                    Role::Primary { .. }
                ) {
                    return Err(RedisError::from((
                        ErrorKind::MasterNameNotFoundBySentinel,
                        "the server the sentinels named is no longer a master",
                    )));
                }
                Connection::Single(connection)
            }
            Target::Cluster(nodes) => Connection::Cluster(
                ClusterClient::builder(nodes.clone())
                    .connection_timeout(timeout)
                    .response_timeout(reply)
                    .build()?
                    .get_connection()?
                    .into(),
            ),
        };
        connection.set_read_timeout(Some(reply))?;
        connection.set_write_timeout(Some(timeout))?;
        Ok(connection)
    }
}

/// A client for one server whose connections skip `CLIENT SETINFO` (a label for `CLIENT
/// LIST`) in their handshake: its reply is waited for on its own, so connecting to a Redis
/// that does not answer would take twice the connect timeout.
fn single(info: ConnectionInfo) -> RedisResult<redis::Client> {
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    redis::Client::open(info.set_redis_settings(settings))
}

/// `[USERINFO@]HOST:PORT[,HOST:PORT…]` and what follows the hosts, each host as a
/// `redis://` URL with the user information.
fn hosts(rest: &str) -> (Vec<String>, &str) {
    let (userinfo, rest) = match rest.rfind('@') {
        Some(at) => (&rest[..=at], &rest[at + 1..]),
        None => ("", rest),
    };
    let (list, path) = rest.split_once('/').unwrap_or((rest, ""));
    let urls = list
        .split(',')
        .map(|host| format!("redis://{userinfo}{host}"))
        .collect();
    (urls, path)
}

fn invalid(message: &'static str) -> RedisError {
    RedisError::from((ErrorKind::InvalidClientConfig, message))
}

/// The sentinels of one master, asked in turn for its address. The lookup is ours rather than
/// the crate's sentinel client, which waits for a sentinel's answer without a timeout: a
/// frozen sentinel (one that accepts the connection and never answers) would hold it for good.
struct Sentinels {
    nodes: Vec<ConnectionInfo>,
    master_name: String,
    /// The master's user, password and db; its address is the sentinels' answer.
    master: ConnectionInfo,
    /// The sentinel that answered last, asked first next time.
    answered: AtomicUsize,
}

impl Sentinels {
    /// The master's address as the first sentinel to answer names it, within `timeout` for
    /// them all (a pooled connection is waited for that long): each sentinel in turn may take
    /// an equal share of the time left, to connect and then to answer, before the next is
    /// asked, so that one that refuses at once leaves its share to the others.
    fn master(&self, timeout: Duration) -> RedisResult<ConnectionInfo> {
        let deadline = std::time::Instant::now() + timeout;
        let first = self.answered.load(Ordering::Relaxed);
        let count = self.nodes.len();
        let mut failure = None;
        for (asked, i) in (0..count).map(|n| (n, (first + n) % count)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let share = left / u32::try_from(count - asked).unwrap_or(u32::MAX);
            if share.is_zero() {
                break;
            }
            match self.ask(&self.nodes[i], share) {
                Ok(Some((host, port))) => {
                    self.answered.store(i, Ordering::Relaxed);
                    return Ok(self
                        .master
                        .clone()
                        .set_addr(ConnectionAddr::Tcp(host, port)));
                }
                Ok(None) => {
                    failure = Some(RedisError::from((
                        ErrorKind::MasterNameNotFoundBySentinel,
                        "a sentinel does not know the master's name",
                    )))
                }
                Err(err) => failure = Some(err),
            }
        }
        Err(failure.unwrap_or_else(|| {
            RedisError::from((
                ErrorKind::MasterNameNotFoundBySentinel,
                "no sentinel answered in time",
            ))
        }))
    }

    /// What one sentinel answers for the master's address (`None`: it knows no such master).
    fn ask(
        &self,
        sentinel: &ConnectionInfo,
        timeout: Duration,
    ) -> RedisResult<Option<(String, u16)>> {
        let mut connection = single(sentinel.clone())?.get_connection_with_timeout(timeout)?;
        connection.set_read_timeout(Some(timeout))?;
        connection.set_write_timeout(Some(timeout))?;
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(&self.master_name)
            .query(&mut connection)
    }
}

fn sentinel(rest: &str) -> RedisResult<Sentinels> {
    let (urls, path) = hosts(rest);
    let (master_name, db) = path.split_once('/').unwrap_or((path, ""));
    if master_name.is_empty() {
        return Err(invalid("a sentinel URL names the master after the sentinels: redis+sentinel://HOST:PORT[,HOST:PORT…]/MASTER_NAME[/DB]"));
    }
    // The first host's URL with the master's db carries the user, password and db to use.
    let master = format!("{}/{db}", urls[0]).into_connection_info()?;
    let nodes = urls
        .iter()
        .map(|url| {
            let info = url.as_str().into_connection_info()?;
            Ok(info.set_redis_settings(redis::RedisConnectionInfo::default()))
        })
        .collect::<RedisResult<Vec<_>>>()?;
    Ok(Sentinels {
        nodes,
        master_name: master_name.to_owned(),
        master,
        answered: AtomicUsize::new(0),
    })
}

fn cluster(rest: &str) -> RedisResult<Vec<ConnectionInfo>> {
    let (urls, path) = hosts(rest);
    if !path.is_empty() {
        return Err(invalid(
            "a cluster URL names its nodes only (a cluster has one database): redis+cluster://HOST:PORT[,HOST:PORT…]",
        ));
    }
    let nodes = urls
        .iter()
        .map(|url| url.as_str().into_connection_info())
        .collect::<RedisResult<Vec<_>>>()?;
    // Checks the nodes now rather than at the first connect.
    ClusterClient::builder(nodes.clone()).build()?;
    Ok(nodes)
}

/// Renews a [`Lock`] only while its holder still holds it.
const RENEW_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Releases a [`Lock`] only while its holder still holds it.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// One connection kept for short commands, made again after an error, and fresh connections
/// for long ones, all with the same timeouts.
pub struct KeptConnection {
    client: RedisClient,
    timeout: Duration,
    slot: std::sync::Mutex<Option<Connection>>,
}

impl KeptConnection {
    /// Does not connect: `timeout` bounds connecting and each reply.
    pub fn new(client: RedisClient, timeout: Duration) -> KeptConnection {
        KeptConnection {
            client,
            timeout,
            slot: std::sync::Mutex::new(None),
        }
    }

    /// A fresh connection of the caller's own.
    pub fn connect(&self) -> RedisResult<Connection> {
        self.client.connect(self.timeout, self.timeout)
    }

    /// Runs `f` on the kept connection; an error drops it, so the next call reconnects.
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> RedisResult<T> {
        let mut slot = self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let connection = match slot.as_mut() {
            Some(connection) => connection,
            None => slot.insert(self.connect()?),
        };
        let result = f(connection);
        if result.is_err() {
            *slot = None;
        }
        result
    }
}

/// A lock one instance at a time holds in Redis (a key set with `NX` to a token of its own, with
/// an expiry), so that a holder that died holds the others off for `ttl` at most. Renewing and
/// releasing act only while the key still holds the token: a holder that outlived its expiry
/// never extends or frees the lock another instance took since.
pub struct Lock {
    key: String,
    token: String,
    ttl_ms: u64,
}

impl Lock {
    /// Takes the lock at `key` for `ttl`, unless another holder has it.
    pub fn take(
        con: &mut impl redis::ConnectionLike,
        key: String,
        ttl: Duration,
    ) -> RedisResult<Option<Lock>> {
        let lock = Lock {
            key,
            token: uuid::Uuid::now_v7().to_string(),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        };
        let taken: Option<String> = redis::cmd("SET")
            .arg(&lock.key)
            .arg(&lock.token)
            .arg("NX")
            .arg("PX")
            .arg(lock.ttl_ms)
            .query(con)?;
        Ok(taken.map(|_| lock))
    }

    /// Holds the lock for another `ttl`; false if it is no longer this holder's.
    pub fn renew(&self, con: &mut impl redis::ConnectionLike) -> RedisResult<bool> {
        let renewed: i64 = redis::Script::new(RENEW_SCRIPT)
            .key(&self.key)
            .arg(&self.token)
            .arg(self.ttl_ms)
            .invoke(con)?;
        Ok(renewed == 1)
    }

    /// The key the lock is held at.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// This holder's token, which the key holds while the lock is this holder's: a script can
    /// make a write conditional on it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Frees the lock if it is still this holder's.
    pub fn release(&self, con: &mut impl redis::ConnectionLike) -> RedisResult<()> {
        let _: i64 = redis::Script::new(RELEASE_SCRIPT)
            .key(&self.key)
            .arg(&self.token)
            .invoke(con)?;
        Ok(())
    }
}

impl Connection {
    /// How many replicas hold every write this connection made to the master of `key`, waiting
    /// up to `timeout` for `replicas` of them (Redis `WAIT`). On a cluster `WAIT` goes to that
    /// master alone, on the connection the writes took: the crate would ask every master and
    /// answer the fewest, and a master this connection wrote nothing to answers its replicas
    /// at once, or makes the write wait out `timeout` for replicas it lacks.
    pub fn wait_replicas(
        &mut self,
        key: &str,
        replicas: u32,
        timeout: Duration,
    ) -> RedisResult<u32> {
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas)
            .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        match self {
            Connection::Single(connection) => wait.query(connection),
            Connection::Cluster(connection) => {
                let master = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::with_key(key, SlotAddr::Master),
                ));
                let confirmed = connection.route_command(&wait, master)?.extract_error()?;
                Ok(redis::from_redis_value(confirmed)?)
            }
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> RedisResult<()> {
        match self {
            Connection::Single(connection) => connection.set_read_timeout(timeout),
            Connection::Cluster(connection) => connection.set_read_timeout(timeout),
        }
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> RedisResult<()> {
        match self {
            Connection::Single(connection) => connection.set_write_timeout(timeout),
            Connection::Cluster(connection) => connection.set_write_timeout(timeout),
        }
    }

    fn inner(&mut self) -> &mut dyn redis::ConnectionLike {
        match self {
            Connection::Single(connection) => connection,
            Connection::Cluster(connection) => connection,
        }
    }
}

impl redis::ConnectionLike for Connection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.inner().req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.inner().req_packed_commands(cmd, offset, count)
    }

    fn req_command(&mut self, cmd: &redis::Cmd) -> RedisResult<Value> {
        self.inner().req_command(cmd)
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }

    /// A cluster connection sends a pipeline (or a `MULTI` block) to the node of its first
    /// command's key; the crate says no because it cannot know the others share that slot. Every
    /// pipeline the service sends keeps its keys under one hash tag, so they do.
    fn supports_pipelining(&self) -> bool {
        true
    }

    fn check_connection(&mut self) -> bool {
        self.inner().check_connection()
    }

    fn is_open(&self) -> bool {
        match self {
            Connection::Single(connection) => connection.is_open(),
            Connection::Cluster(connection) => connection.is_open(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_left_out_of_every_form() {
        assert_eq!(
            without_password("redis+sentinel://:secret@h1:26379,h2:26379/main/2"),
            "redis+sentinel://h1:26379,h2:26379/main/2"
        );
        assert_eq!(
            without_password("redis+cluster://u:p@h1:7000,h2:7001"),
            "redis+cluster://h1:7000,h2:7001"
        );
        assert_eq!(without_password("redis://h:6379/0"), "redis://h:6379/0");
    }

    #[test]
    fn every_form_is_read_and_a_sentinel_url_needs_its_master() {
        for url in [
            "redis://127.0.0.1:6379/0",
            "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/main",
            "redis+sentinel://:pw@127.0.0.1:26379/main/3",
            "redis+cluster://127.0.0.1:7000,127.0.0.1:7001",
        ] {
            assert!(is_redis_url(url), "{url}");
            assert!(RedisClient::open(url).is_ok(), "{url}");
        }
        assert!(RedisClient::open("redis+sentinel://127.0.0.1:26379").is_err());
        assert!(RedisClient::open("redis+cluster://127.0.0.1:7000/1").is_err());
        assert!(!is_redis_url("http://127.0.0.1:6379"));
    }
}
