//! The test harness: the real server started in-process on a loopback port chosen by the OS,
//! request helpers, problem+json checks and identifier builders (check characters computed here,
//! independently of the crate, from GB 32100 and GB 11643).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiangcheng::app::Service;
use jiangcheng::config::{ServeArgs, Settings};
use jiangcheng::http::{AccessConfig, Limits};
use jiangcheng::lists::source::{ColdCacheConfig, ListSource};
use jiangcheng::push::{Networks, PushConfig};
use jiangcheng::register::{RegisterConfig, Sink};
use jiangcheng::snapshot::SnapshotKeeping;
use jiangcheng::startup::{self, FirstLoad, Reload, Reloader, StartupError, Stop};
use jiangcheng::watchlists::{StoreConfig, WatchlistConfig};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

/// The instant most tests evaluate at, so that no result depends on today's date.
pub const AS_OF: &str = "2026-11-22T10:00:00+08:00";
/// `AS_OF` for a query string (`+` would read as a space).
pub const AS_OF_QUERY: &str = "2026-11-22T10:00:00%2B08:00";

/// The shipped rule set.
pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/qiqihar")
}

/// The shipped demo list file (the embedded default list source).
pub fn demo_lists() -> PathBuf {
    rules_dir().join("demo-lists.jsonl")
}

/// A change to the register's settings before it opens.
type RegisterSettings = Box<dyn FnOnce(&mut RegisterConfig)>;
/// A change to the watchlists' settings before they open.
type WatchlistSettings = Box<dyn FnOnce(&mut WatchlistConfig)>;

/// A change to the push's settings before it starts.
type PushSettings = Box<dyn FnOnce(&mut PushConfig)>;

/// How to start a server.
pub struct Spawn {
    rules: PathBuf,
    lists: ListSource,
    limits: Limits,
    /// Whether `start` waits for the first load (and panics if it fails).
    wait_for_first_load: bool,
    /// Whether the first load is forced past the fail-closed guard (`--force-next-load`).
    force_first_load: bool,
    bench_routes: bool,
    /// A keys file's text, and whether `/metrics` needs a key.
    keys: Option<(String, bool)>,
    access: AccessConfig,
    /// The query register's sink and queue size; its folder is a temp dir of the app's.
    register: (Sink, usize),
    /// Changes the register's settings (its folder among them) before it opens.
    register_settings: Option<RegisterSettings>,
    /// Changes the watchlists' settings before they open; their folder is by default one in
    /// the register's temp dir, with lists from Redis their store is that Redis.
    watchlist_settings: Option<WatchlistSettings>,
    cold_cache: ColdCacheConfig,
    snapshot_keeping: SnapshotKeeping,
    /// Runs once the service is built, before it serves (and runs a Redis source's first load).
    before_run: Option<Box<dyn FnOnce()>>,
    /// Changes the push's settings (its folder a temp dir of the app's, loopback allowed).
    push: Option<PushSettings>,
    dir: Option<tempfile::TempDir>,
}

impl Spawn {
    /// The shipped rule set with these entries as the list file (JSON Lines in a temp dir).
    pub fn entries(entries: &[Value]) -> Spawn {
        let dir = tempfile::tempdir().expect("temp dir");
        let lists = dir.path().join("lists.jsonl");
        write_jsonl(&lists, entries);
        Spawn {
            dir: Some(dir),
            ..Spawn::files(rules_dir(), lists)
        }
    }

    /// The shipped rule set and demo lists.
    pub fn demo() -> Spawn {
        Spawn::files(rules_dir(), demo_lists())
    }

    pub fn files(rules: PathBuf, lists: PathBuf) -> Spawn {
        Spawn::source(rules, ListSource::File(lists))
    }

    pub fn source(rules: PathBuf, lists: ListSource) -> Spawn {
        Spawn {
            rules,
            lists,
            limits: Limits::default(),
            wait_for_first_load: true,
            // Forced, as `serve --force-next-load` is: many tests start with no entries on
            // purpose; the fail-closed guard has tests of its own (`reload`, `process`).
            force_first_load: true,
            bench_routes: false,
            keys: None,
            // Tests that are not about the limit on refused keys make many refusals a minute
            // from one address.
            access: AccessConfig {
                auth_failures_per_minute: 100_000,
                ..AccessConfig::default()
            },
            register: (Sink::Files, RegisterConfig::default().queue_records),
            register_settings: None,
            watchlist_settings: None,
            cold_cache: ColdCacheConfig::default(),
            snapshot_keeping: SnapshotKeeping::default(),
            before_run: None,
            push: None,
            dir: None,
        }
    }

    /// Changes the push's settings: its folder is in the register's temp dir unless changed,
    /// and subscriber URLs may point to loopback, where the tests' receivers listen.
    pub fn push(mut self, change: impl FnOnce(&mut PushConfig) + 'static) -> Spawn {
        self.push = Some(Box::new(change));
        self
    }

    /// Runs `step` once the service is built (its files loaded, a Redis source asked whether
    /// it answers), before it serves and a Redis source's lists load.
    pub fn before_run(mut self, step: impl FnOnce() + 'static) -> Spawn {
        self.before_run = Some(Box::new(step));
        self
    }

    /// The cold-list cache's settings.
    pub fn cold_cache(mut self, cold_cache: ColdCacheConfig) -> Spawn {
        self.cold_cache = cold_cache;
        self
    }

    /// When the instance writes the list snapshot stored in Redis.
    pub fn snapshot_keeping(mut self, keeping: SnapshotKeeping) -> Spawn {
        self.snapshot_keeping = keeping;
        self
    }

    /// The query register in `sink`, with a queue of `queue_records`.
    pub fn register(mut self, sink: Sink, queue_records: usize) -> Spawn {
        self.register = (sink, queue_records);
        self
    }

    /// Changes the register's settings, its folder among them, before it opens.
    pub fn register_settings(
        mut self,
        change: impl FnOnce(&mut RegisterConfig) + 'static,
    ) -> Spawn {
        self.register_settings = Some(Box::new(change));
        self
    }

    /// Changes the watchlists' settings (their folder, their limits) before they open.
    pub fn watchlists(mut self, change: impl FnOnce(&mut WatchlistConfig) + 'static) -> Spawn {
        self.watchlist_settings = Some(Box::new(change));
        self
    }

    pub fn rules(mut self, rules: PathBuf) -> Spawn {
        self.rules = rules;
        self
    }

    pub fn limits(mut self, limits: Limits) -> Spawn {
        self.limits = limits;
        self
    }

    /// Mount the bare reference endpoint of the load tests.
    pub fn bench_routes(mut self) -> Spawn {
        self.bench_routes = true;
        self
    }

    /// Require API keys: `config` is the keys file's text.
    pub fn keys(mut self, config: &str, protect_metrics: bool) -> Spawn {
        self.keys = Some((config.to_owned(), protect_metrics));
        self
    }

    /// Admission's settings.
    pub fn access(mut self, access: AccessConfig) -> Spawn {
        self.access = access;
        self
    }

    /// Start without waiting for the first load (which a [`Gate`] in the rule set can hold).
    pub fn unloaded(mut self) -> Spawn {
        self.wait_for_first_load = false;
        self
    }

    /// The first load is held to the fail-closed guard, as `serve` without
    /// `--force-next-load` holds it; `start` does not wait for it.
    pub fn guarded_first_load(mut self) -> Spawn {
        self.force_first_load = false;
        self.unloaded()
    }

    /// Builds the service as `serve` does, which must fail: why.
    pub fn build_error(self) -> StartupError {
        let listen = "127.0.0.1:0".parse().expect("an address");
        match startup::build(&self.settings(listen).settings) {
            Ok(_) => panic!("the service built"),
            Err(err) => err,
        }
    }

    /// The settings `serve` would resolve to, with what they name in temp dirs.
    fn settings(self, listen: std::net::SocketAddr) -> Built {
        let register_dir = tempfile::tempdir().expect("temp dir");
        let (sink, queue_records) = self.register;
        let mut register = RegisterConfig {
            sink,
            dir: register_dir.path().to_path_buf(),
            key_file: None,
            queue_records,
            ..RegisterConfig::default()
        };
        if let Some(change) = self.register_settings {
            change(&mut register);
        }
        let keys_dir = tempfile::tempdir().expect("temp dir");
        let keys = self.keys.as_ref().map(|(config, _)| {
            let path = keys_dir.path().join("keys.toml");
            std::fs::write(&path, config).expect("write the keys file");
            path
        });
        let mut push = PushConfig::new(register_dir.path().join("push"));
        push.networks = Networks::parse(&["127.0.0.0/8".to_owned()]).expect("loopback");
        if let Some(change) = self.push {
            change(&mut push);
        }
        let defaults = ServeArgs::default()
            .resolve()
            .expect("serve's defaults resolve");
        let mut watchlists = WatchlistConfig {
            store: StoreConfig::following(&self.lists, register_dir.path().join("watchlists")),
            ..defaults.watchlists.clone()
        };
        if let Some(change) = self.watchlist_settings {
            change(&mut watchlists);
        }
        let settings = Settings {
            listen,
            push,
            rules: self.rules.into(),
            lists: self.lists,
            force_next_load: self.force_first_load,
            cold_cache: self.cold_cache,
            snapshot_keeping: self.snapshot_keeping,
            workers: 1,
            limits: self.limits,
            bench_routes: self.bench_routes,
            keys,
            protect_metrics: self.keys.as_ref().is_some_and(|(_, protect)| *protect),
            access: self.access,
            register,
            watchlists,
            // Every other setting at `serve`'s default.
            ..defaults
        };
        Built {
            settings,
            register_dir,
            keys_dir,
            wait_for_first_load: self.wait_for_first_load,
            before_run: self.before_run,
            dir: self.dir,
        }
    }

    /// Builds and runs the service as `serve` does, on a thread and actix system of its own,
    /// and waits for its first load (panicking if that fails) unless told not to.
    pub fn start(self) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let listen = listener.local_addr().expect("local address");
        let Built {
            settings,
            register_dir,
            keys_dir: _keys_dir,
            wait_for_first_load,
            before_run,
            dir,
        } = self.settings(listen);
        let app = startup::build(&settings).expect("the service builds");
        if let Some(step) = before_run {
            step();
        }
        let (service, reloader) = (app.service(), app.reloader());
        let mut first_load = app.first_load();
        let app_first_load = app.first_load();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (loaded, first_loaded) = std::sync::mpsc::channel();
        let running = std::thread::Builder::new()
            .name("test-service".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    actix_web::rt::spawn(async move {
                        let _ = loaded.send(first_load.outcome().await);
                    });
                    app.run(listener, async move {
                        let _ = stopped.await;
                    })
                    .await
                })
            })
            .expect("a thread for the service");
        if wait_for_first_load && first_loaded.recv().ok().flatten() != Some(true) {
            panic!(
                "the test server could not load its rules and lists: {}",
                service.snapshots.report().last_error.unwrap_or_default()
            );
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        TestApp {
            address: format!("http://{listen}"),
            service,
            reloader,
            first_load: app_first_load,
            client,
            register_dir,
            stop: Some(stop),
            running: Some(running),
            _dir: dir,
        }
    }
}

/// A [`Spawn`]'s settings, and what they name.
struct Built {
    settings: Settings,
    register_dir: tempfile::TempDir,
    keys_dir: tempfile::TempDir,
    wait_for_first_load: bool,
    before_run: Option<Box<dyn FnOnce()>>,
    dir: Option<tempfile::TempDir>,
}

/// The shipped rule set with `entries` as its lists, loaded and serving.
pub fn spawn_app(entries: &[Value]) -> TestApp {
    Spawn::entries(entries).start()
}

pub struct TestApp {
    pub address: String,
    /// The running service, as the handlers reach it.
    pub service: Arc<Service>,
    reloader: Reloader,
    first_load: FirstLoad,
    pub client: reqwest::Client,
    /// The query register's folder.
    pub register_dir: tempfile::TempDir,
    /// Ends the service's run, as a stop signal does.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: Option<std::thread::JoinHandle<Result<Stop, StartupError>>>,
    /// Holds the list file of `Spawn::entries` for as long as the server runs.
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestApp {
    /// Asks the running service for a reload, exactly as `SIGHUP` (`Reload::Guarded`) or
    /// `SIGUSR1` (`Reload::Forced`) does; whether it succeeded.
    pub async fn reload(&self, reload: Reload) -> bool {
        self.reloader.reload(reload).await
    }

    /// Whether the first load succeeded, once it is known (`None`: the service ended first).
    pub async fn first_load(&mut self) -> Option<bool> {
        self.first_load.outcome().await
    }

    /// Stops the service as a stop signal does, and returns how its run ended.
    pub async fn stop(mut self) -> Result<Stop, StartupError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.ended().await
    }

    /// Waits for the service's run to end by itself, and returns how it ended.
    pub async fn ended(mut self) -> Result<Stop, StartupError> {
        let running = self.running.take().expect("the service's thread");
        actix_web::rt::task::spawn_blocking(move || running.join())
            .await
            .expect("the wait for the service")
            .expect("the service's thread ends without a panic")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn post_decide(&self, body: &Value) -> Response {
        self.post_json("/v1/decide", body).await
    }

    pub async fn post_batch(&self, body: &Value) -> Response {
        self.post_json("/v1/decide/batch", body).await
    }

    /// POST raw bytes with the given content type (none when `None`).
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        content_type: Option<&str>,
    ) -> Response {
        let mut request = self.client.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        request.send().await.expect("POST")
    }

    /// GET that must answer 200 with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        ok_json(response, &format!("GET {path}")).await
    }

    /// One decision that must succeed.
    pub async fn decide(&self, subject: &str, matter: &str, as_of: &str) -> Value {
        let body = json!({"subject": {"id": subject}, "matter": matter, "as_of": as_of});
        let response = self.post_decide(&body).await;
        ok_json(response, &format!("decide {subject} in {matter}")).await
    }

    pub async fn metrics(&self) -> String {
        let response = self.get("/metrics").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("metrics text")
    }

    pub async fn status(&self) -> Value {
        self.get_json("/v1/status").await
    }

    pub async fn lists_version(&self) -> u64 {
        self.status().await["lists"]["version"]
            .as_u64()
            .expect("lists.version in /v1/status")
    }
}

/// Asserts 200 and `application/json`, and returns the body.
pub async fn ok_json(response: Response, what: &str) -> Value {
    let status = response.status();
    let content_type = header(&response, "content-type");
    let text = response.text().await.expect("body");
    assert_eq!(
        status,
        StatusCode::OK,
        "{what}: expected 200, got {status}: {text}"
    );
    assert!(
        content_type.starts_with("application/json"),
        "{what}: content-type {content_type:?}"
    );
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{what}: the body is not JSON ({err}): {text}"))
}

pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Asserts an RFC 9457 problem with this status and code; returns the problem.
pub async fn problem(response: Response, status: u16, code: &str, what: &str) -> Value {
    let got = response.status().as_u16();
    let content_type = header(&response, "content-type");
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "{what}: expected {status}, got {got}: {text}");
    assert_eq!(
        content_type, "application/problem+json",
        "{what}: content-type of {text}"
    );
    let problem: Value = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{what}: not JSON ({err}): {text}"));
    assert_eq!(problem["code"], code, "{what}: {problem}");
    assert_eq!(problem["status"], status, "{what}: {problem}");
    for field in ["type", "title", "detail"] {
        let value = problem[field]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: `{field}` missing in {problem}"));
        assert!(!value.is_empty(), "{what}: `{field}` empty in {problem}");
    }
    problem
}

/// The `field`s named in a problem's `errors` array.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

// === list files ===

/// An in-force entry (2026-01-01 to 2028-01-01) of `subject` on `list`.
pub fn entry(entry_id: &str, list: &str, subject: &str) -> Value {
    json!({"entry_id": entry_id, "list": list, "subject_id": subject,
           "listed_on": "2026-01-01", "valid_until": "2028-01-01"})
}

/// `entry` with extra or replaced fields.
pub fn entry_with(entry_id: &str, list: &str, subject: &str, fields: Value) -> Value {
    let mut record = entry(entry_id, list, subject);
    for (key, value) in fields.as_object().expect("fields object") {
        record[key] = value.clone();
    }
    record
}

pub fn write_jsonl(path: &Path, entries: &[Value]) {
    let text: String = entries.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(path, text).expect("write list file");
}

/// A copy of the shipped rule set whose `ruleset.toml` is a named pipe: a load blocks reading
/// it until [`Gate::open`] writes the file through the pipe and puts the real file in its place.
pub struct Gate {
    dir: tempfile::TempDir,
}

impl Gate {
    pub fn new() -> Gate {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_rules(dir.path());
        let pipe = dir.path().join("ruleset.toml");
        std::fs::rename(&pipe, dir.path().join("ruleset.toml.held")).expect("set the file aside");
        let made = std::process::Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .expect("mkfifo");
        assert!(made.success(), "mkfifo {}", pipe.display());
        Gate { dir }
    }

    /// The rule-set folder to load.
    pub fn rules(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Waits for a load to read the pipe, runs `meanwhile` while it waits there, then lets it
    /// read the file (later loads read the file itself).
    pub fn open_after(&self, meanwhile: impl FnOnce()) {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let (pipe, held) = (
            self.dir.path().join("ruleset.toml"),
            self.dir.path().join("ruleset.toml.held"),
        );
        let text = std::fs::read(&held).expect("the held file");
        // A pipe opens for writing without blocking only once it has a reader.
        let started = std::time::Instant::now();
        let mut writer = loop {
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&pipe);
            match opened {
                Ok(writer) => break writer,
                Err(err) if err.raw_os_error() == Some(libc::ENXIO) => {
                    assert!(
                        started.elapsed() < Duration::from_secs(30),
                        "no load reads the pipe"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(err) => panic!("open the pipe: {err}"),
            }
        };
        meanwhile();
        std::fs::rename(&held, &pipe).expect("the file in the pipe's place");
        writer.write_all(&text).expect("write through the pipe");
    }
}

/// Copies a rule-set folder (the five TOML files) to `to`.
pub fn copy_rules(to: &Path) {
    std::fs::create_dir_all(to).expect("rules dir");
    for name in jiangcheng::ruleset::FILES {
        std::fs::copy(rules_dir().join(name), to.join(name)).expect("copy rule-set file");
    }
}

// === identifiers ===

const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [usize; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const RID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The GB 32100 check character of the first 17 characters of a USCC.
pub fn uscc_check(first17: &str) -> char {
    let sum: usize = first17
        .bytes()
        .zip(USCC_WEIGHTS)
        .map(|(b, w)| {
            USCC_ALPHABET
                .iter()
                .position(|&a| a == b)
                .expect("USCC alphabet")
                * w
        })
        .sum();
    char::from(USCC_ALPHABET[(31 - sum % 31) % 31])
}

/// The GB 11643 check character of the first 17 digits of a resident ID.
pub fn rid_check(first17: &str) -> char {
    let sum: u32 = first17
        .bytes()
        .zip(RID_WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    char::from(b"10X98765432"[(sum % 11) as usize])
}

/// A valid USCC: `prefix` (two characters), division 230202, `MA` and `n` in base 31.
pub fn uscc(prefix: &str, n: u64) -> String {
    let mut body = [b'0'; 7];
    let mut rest = n;
    for slot in body.iter_mut().rev() {
        *slot = USCC_ALPHABET[(rest % 31) as usize];
        rest /= 31;
    }
    let first17 = format!(
        "{prefix}230202MA{}",
        std::str::from_utf8(&body).expect("ascii")
    );
    format!("{first17}{}", uscc_check(&first17))
}

/// A valid resident ID of a person born 1985-03-12 (n < 1000), or later days for larger n.
pub fn rid(n: u32) -> String {
    let day = 12 + n / 1000;
    assert!(day <= 31, "rid({n}) out of range");
    let first17 = format!("2302021985{:02}{:02}{:03}", 3, day, n % 1000);
    format!("{first17}{}", rid_check(&first17))
}

/// The identifier with its last character replaced by a wrong one from `alphabet`, and the
/// character it should have.
pub fn with_wrong_check(id: &str, alphabet: &str) -> (String, char) {
    let right = id.chars().last().expect("non-empty");
    let wrong = alphabet
        .chars()
        .find(|&c| c != right)
        .expect("another character");
    (format!("{}{wrong}", &id[..id.len() - 1]), right)
}

/// A resident ID whose check digit fails and that is not a valid all-digit USCC either.
pub fn rid_with_wrong_check(n: u32) -> (String, char) {
    let valid = rid(n);
    let first17 = &valid[..17];
    let right = rid_check(first17);
    let wrong = "0123456789"
        .chars()
        .find(|&c| c != right && uscc_check(first17) != c)
        .expect("a wrong digit");
    (format!("{first17}{wrong}"), right)
}

// === shapes ===

/// `2026-11-22T10:00:00.000+08:00`: RFC 3339 with milliseconds at +08:00.
pub fn is_rfc3339_plus8(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    text.len() >= 25
        && text.ends_with("+08:00")
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// A UUID in its hyphenated text form.
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
}

/// Invariant 12 on one decision: ruleset name and revision, lists version; each reason names
/// topic, list, entry, measure, effect, category and legal basis (non-empty for a block, which
/// must be category 1); and invariant 9: the decision follows from the reasons.
pub fn assert_explained(decision: &Value, what: &str) {
    assert_explained_by(decision, "qiqihar", what);
}

/// [`assert_explained`] for a decision made under the rule set called `ruleset`.
pub fn assert_explained_by(decision: &Value, ruleset: &str, what: &str) {
    assert_eq!(
        decision["ruleset"]["name"], ruleset,
        "{what}: ruleset.name in {decision}"
    );
    let revision = decision["ruleset"]["revision"].as_str().unwrap_or_default();
    assert!(
        !revision.is_empty(),
        "{what}: ruleset.revision in {decision}"
    );
    assert!(
        decision["lists_version"].as_u64().is_some_and(|v| v >= 1),
        "{what}: lists_version in {decision}"
    );
    let reasons = decision["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: reasons in {decision}"));
    for reason in reasons {
        for field in [
            "topic",
            "list",
            "entry_id",
            "measure",
            "effect",
            "legal_basis",
        ] {
            assert!(
                reason[field].as_str().is_some_and(|s| !s.is_empty()),
                "{what}: reason without `{field}`: {reason}"
            );
        }
        let category = reason["category"].as_u64().unwrap_or(0);
        assert!((1..=3).contains(&category), "{what}: category of {reason}");
        match reason["effect"].as_str().unwrap_or_default() {
            "block" => assert_eq!(
                category, 1,
                "{what}: a block reason must be category 1: {reason}"
            ),
            "inform" | "flag" | "reward" => {}
            other => panic!("{what}: unknown effect `{other}` in {reason}"),
        }
        if !reason["via"].is_null() {
            assert_eq!(
                reason["via"]["entry_id"], reason["entry_id"],
                "{what}: via.entry_id of {reason}"
            );
        }
    }
    let has = |effect: &str| reasons.iter().any(|r| r["effect"] == effect);
    let expected = if has("block") {
        "block"
    } else if has("flag") {
        "flag"
    } else {
        "allow"
    };
    assert_eq!(
        decision["decision"], expected,
        "{what}: decision does not follow from its reasons: {decision}"
    );
    assert!(
        is_uuid(decision["decision_id"].as_str().unwrap_or_default()),
        "{what}: decision_id of {decision}"
    );
    assert!(
        is_rfc3339_plus8(decision["evaluated_at"].as_str().unwrap_or_default()),
        "{what}: evaluated_at of {decision}"
    );
}

/// A decision's reasons as comparable tuples (topic, measure, effect, entry_id, via role,
/// warning codes), sorted.
pub fn reason_keys(decision: &Value) -> Vec<String> {
    let mut keys: Vec<String> = decision["reasons"]
        .as_array()
        .map(|reasons| reasons.iter().map(reason_key).collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

pub fn reason_key(reason: &Value) -> String {
    let mut warnings: Vec<&str> = reason["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|w| w["code"].as_str().or(w.as_str()))
                .collect()
        })
        .unwrap_or_default();
    warnings.sort_unstable();
    let via = reason["via"]["role"].as_str().unwrap_or("-");
    format!(
        "{} / {} / {} / {} / via {} / warnings {:?}",
        reason["topic"].as_str().unwrap_or("?"),
        reason["measure"].as_str().unwrap_or("?"),
        reason["effect"].as_str().unwrap_or("?"),
        reason["entry_id"].as_str().unwrap_or("?"),
        via,
        warnings
    )
}

/// The codes of a decision's (or profile's) `warnings`.
pub fn warning_codes(value: &Value) -> Vec<String> {
    value["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|w| w["code"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
