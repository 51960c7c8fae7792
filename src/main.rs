//! The `jiangcheng` binary: `serve`, `check` and `gen`. Errors become messages here (anyhow);
//! everything else lives in the library.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use tracing::info;

use jiangcheng::app::Service;
use jiangcheng::config::{
    CheckArgs, Cli, Command, CompletionsArgs, DecideArgs, GenArgs, ImportArgs, KeysCommand,
    KeysFileArgs, NewKeyArgs, RegisterCommand, RegisterHashArgs, RevokeKeyArgs, ServeArgs,
};
use jiangcheng::keys::{self, Revocation, Scope};
use jiangcheng::lists::gen::{self, GenOptions};
use jiangcheng::lists::source::{
    ColdCacheConfig, Import, ImportError, ListSource, SnapshotWriteError, Source,
    DEFAULT_CONNECTIONS, DEFAULT_PREFIX, DEFAULT_TIMEOUT,
};
use jiangcheng::register;
use jiangcheng::ruleset::{RuleSet, RuleSource};
use jiangcheng::snapshot::{LoadError, Snapshots, Sources};
use jiangcheng::startup::{self, StartupError, Stop};
use jiangcheng::{lists, ruleset, telemetry};

/// An error ends the command with its message, the chain of causes and a hint, never a
/// backtrace (which `RUST_BACKTRACE` would add to a returned `anyhow::Error`): exit code 1.
/// Usage errors are clap's, with exit code 2.
fn main() -> ExitCode {
    let command = Cli::parse().command;
    let name = command_name(&command);
    match run(command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            eprintln!("hint: {}", hint(name, &err));
            ExitCode::FAILURE
        }
    }
}

/// The subcommand as typed, for the hint.
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Serve(_) => "serve",
        Command::Check(_) => "check",
        Command::Decide(_) => "decide",
        Command::Gen(_) => "gen",
        Command::Import(_) => "import",
        Command::Keys(KeysCommand::New(_)) => "keys new",
        Command::Keys(KeysCommand::List(_)) => "keys list",
        Command::Keys(KeysCommand::Revoke(_)) => "keys revoke",
        Command::Register(RegisterCommand::Hash(_)) => "register hash",
        Command::Completions(_) => "completions",
        Command::Man => "man",
        Command::Openapi => "openapi",
    }
}

/// The one line most likely to help: where a rule set that would not load comes from, else
/// where the command's options are listed.
fn hint(command: &str, err: &anyhow::Error) -> String {
    if err.downcast_ref::<ruleset::RuleSetError>().is_some() {
        return "--rules (or JC_RULES) names the rule-set folder; `jiangcheng check --rules DIR` lists each problem in it".to_owned();
    }
    if let Some(keys::KeysError::NoSuchKey { path, .. }) = err.downcast_ref() {
        return format!(
            "`jiangcheng keys list --keys {}` lists the ids",
            path.display()
        );
    }
    if let Some(StartupError::FirstLoad { source, .. }) = err.downcast_ref() {
        return match source.as_ref() {
            LoadError::Refused(_) => "--force-next-load takes these lists on purpose, once".to_owned(),
            _ => "--rules and --lists (JC_RULES, JC_LISTS) name the rule set and the lists, a relative path from the working directory; without them the embedded ones serve; `jiangcheng check --rules DIR --lists FILE` lists each problem".to_owned(),
        };
    }
    format!("`jiangcheng {command} --help` lists its options")
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => {
            restart_with_malloc_tunables();
            serve(*args)
        }
        Command::Check(args) => check(args),
        Command::Decide(args) => decide(args),
        Command::Gen(args) => generate(args),
        Command::Import(args) => import(args),
        Command::Keys(KeysCommand::New(args)) => new_key(args),
        Command::Keys(KeysCommand::List(args)) => list_keys(args),
        Command::Keys(KeysCommand::Revoke(args)) => revoke_key(args),
        Command::Register(RegisterCommand::Hash(args)) => register_hash(args),
        Command::Completions(args) => completions(args),
        Command::Man => man(),
        Command::Openapi => openapi(),
    }
}

/// `jiangcheng completions SHELL`: the script the shell sources, on stdout.
fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    // Written through a buffer: clap_complete panics on a failed write (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "jiangcheng", &mut script);
    print_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// `jiangcheng man`: the man page, in roff, on stdout.
fn man() -> anyhow::Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    print_all(&page)?;
    Ok(ExitCode::SUCCESS)
}

fn openapi() -> anyhow::Result<ExitCode> {
    let document = jiangcheng::http::openapi_json()? + "\n";
    print_all(document.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a reader that stopped early (`| head`) is not an error.
fn print_all(bytes: &[u8]) -> std::io::Result<()> {
    match std::io::stdout().write_all(bytes) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written,
    }
}

/// Prints the hash the register keeps a subject under.
fn register_hash(args: RegisterHashArgs) -> anyhow::Result<ExitCode> {
    let subject = jiangcheng::ident::parse(&args.id).context("the identifier")?;
    let (config, warnings) = args.register();
    for warning in warnings {
        eprintln!("jiangcheng: {warning}");
    }
    println!("{}", register::subject_hash(&config.key_path(), &subject)?);
    Ok(ExitCode::SUCCESS)
}

/// glibc's malloc settings `serve` runs with unless the environment sets its own: transparent
/// huge pages for the heap, so that a lookup's cache misses cost fewer page walks, and blocks of
/// up to 8 MiB kept in the heap rather than unmapped after each request and faulted in again on
/// the next (at glibc's defaults, page faults took a third of a 10,000-subject batch's CPU).
const MALLOC_TUNABLES: &str = "glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=33554432:glibc.malloc.mmap_threshold=8388608";

/// Set in the environment of the restarted `serve`: it was started with [`MALLOC_TUNABLES`], and
/// must not restart again (glibc rewrites `GLIBC_TUNABLES` as it reads it).
const MALLOC_TUNED: &str = "JC_MALLOC_TUNED";

/// glibc reads `GLIBC_TUNABLES` only as a process starts, so `serve` starts itself once more,
/// in the same process, with [`MALLOC_TUNABLES`] set. Returns only if that was not done: the
/// variable was already set (even to nothing), this is the restarted process, or the restart
/// failed.
fn restart_with_malloc_tunables() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("GLIBC_TUNABLES").is_some() || std::env::var_os(MALLOC_TUNED).is_some() {
        return;
    }
    let error = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("GLIBC_TUNABLES", MALLOC_TUNABLES)
            .env(MALLOC_TUNED, "1")
            .exec(),
        Err(error) => error,
    };
    eprintln!("jiangcheng: serving without glibc's malloc tunables: the restart failed ({error})");
}

/// The malloc tunables this process runs with, for the log.
fn malloc_tunables() -> String {
    if std::env::var_os(MALLOC_TUNED).is_some() {
        return MALLOC_TUNABLES.to_owned();
    }
    // As glibc left it after reading it.
    std::env::var("GLIBC_TUNABLES").unwrap_or_else(|_| "glibc's defaults".to_owned())
}

/// `jiangcheng keys new`: the key on the first line, then the table for the keys file.
fn new_key(args: NewKeyArgs) -> anyhow::Result<ExitCode> {
    if args.department.trim().is_empty() {
        anyhow::bail!("--department must name the calling department");
    }
    let scopes = args
        .scopes
        .iter()
        .map(|scope| scope.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()?;
    let key = keys::new_key(&args.department, &scopes, args.rate_per_second);
    println!("{}", key.token);
    eprintln!(
        "The key above is shown only now; hand it to {} and keep it secret.",
        args.department
    );
    eprintln!("Add this to the keys file (it holds the key's hash, not the key):");
    print!("\n{}", key.config);
    Ok(ExitCode::SUCCESS)
}

/// `jiangcheng keys list`: one line a key, tab-separated under a header.
fn list_keys(args: KeysFileArgs) -> anyhow::Result<ExitCode> {
    let mut out = String::from("id\tdepartment\tscopes\trate\trevoked\tsha256\n");
    for key in keys::list(&args.keys)? {
        let rate = match (key.rate_per_second, key.burst) {
            (None, _) => "none".to_owned(),
            (Some(rate), None) => format!("{rate}/s"),
            (Some(rate), Some(burst)) => format!("{rate}/s burst {burst}"),
        };
        out += &format!(
            "{}\t{}\t{}\t{rate}\t{}\t{}…\n",
            key.id,
            key.department,
            key.scopes.join(","),
            if key.revoked { "revoked" } else { "no" },
            key.sha256_prefix,
        );
    }
    print_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `jiangcheng keys revoke ID`: marks the key revoked in the keys file.
fn revoke_key(args: RevokeKeyArgs) -> anyhow::Result<ExitCode> {
    let path = &args.file.keys;
    match keys::revoke(path, &args.id)? {
        Revocation::Revoked => eprintln!(
            "revoked key `{}` in {}; a running service refuses it once reloaded (SIGHUP: systemctl reload jiangcheng)",
            args.id,
            path.display()
        ),
        Revocation::AlreadyRevoked => eprintln!(
            "key `{}` was already revoked in {}; nothing changed",
            args.id,
            path.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = args.resolve()?;
    telemetry::init(settings.log_format, settings.log_time, &settings.log);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    // Loaded (or a Redis source found answering) before the port is bound: a failure exits
    // with nothing listening.
    let app = startup::build(&settings)?;
    let listener = startup::bind(&settings)?;
    info!(
        listen = %listener.local_addr()?,
        workers = settings.workers,
        rules = %settings.rules,
        lists = %settings.lists.location(),
        bench_routes = settings.bench_routes,
        malloc_tunables = %malloc_tunables(),
        "jiangcheng listening"
    );
    // The server stops itself on SIGINT, SIGTERM and SIGQUIT; nothing else stops it.
    let stopped =
        actix_web::rt::System::new().block_on(app.run(listener, std::future::pending()))?;
    Ok(match stopped {
        Stop::Requested => ExitCode::SUCCESS,
        Stop::FirstLoadFailed => ExitCode::FAILURE,
    })
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let rules = match RuleSource::or_embedded(args.rules).load() {
        Ok(rules) => rules,
        Err(err) => {
            for problem in &err.0 {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s); the rule set is refused", err.0.len());
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("ok: {rules}");
    if let Some(path) = args.lists {
        let index = match lists::load_file(&path, &rules) {
            Ok(index) => index,
            Err(err) => {
                eprintln!("{err}");
                return Ok(ExitCode::FAILURE);
            }
        };
        println!(
            "ok: {} entries for {} subjects in {}",
            index.len(),
            index.subjects(),
            path.display()
        );
        if let Some(out) = args.write_snapshot {
            index.write_snapshot_file(&out, &rules.revision)?;
            println!("wrote the list snapshot {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `jiangcheng decide ID MATTER`: the decision the API would answer, from a rule set and lists
/// loaded here, through the service's own decision path. No register: nothing is recorded.
fn decide(args: DecideArgs) -> anyhow::Result<ExitCode> {
    let lists = match &args.lists {
        Some(text) => {
            ListSource::parse(text, DEFAULT_PREFIX, DEFAULT_TIMEOUT, DEFAULT_CONNECTIONS)?
        }
        None => ListSource::Embedded,
    };
    let sources = Sources {
        rules: RuleSource::or_embedded(args.rules),
        lists,
    };
    let what = format!(
        "cannot load the rule set ({}) and lists ({})",
        sources.rules,
        sources.lists.location()
    );
    let service = Service::new(Snapshots::new(sources), ColdCacheConfig::default());
    // The fail-closed guard protects a serving service from losing its lists; here an empty
    // list file is the caller's to decide against.
    service.force_reload().context(what)?;
    let id = match args.id.as_str() {
        "-" => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the identifier from standard input")?;
            line.trim().to_owned()
        }
        _ => args.id,
    };
    let mut body = serde_json::json!({"subject": {"id": id}, "matter": args.matter});
    if let Some(as_of) = &args.as_of {
        body["as_of"] = as_of.as_str().into();
    }
    let mut body = serde_json::to_vec(&body)?;
    let answer = actix_web::rt::System::new()
        .block_on(jiangcheng::http::decide_offline(&service, &mut body))?;
    if args.json {
        print_all(&answer)?;
        print_all(b"\n")?;
    } else {
        print_all(explained(&serde_json::from_slice(&answer)?).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A decision answer in a few lines: the decision, then each measure with its legal basis.
fn explained(answer: &serde_json::Value) -> String {
    use std::fmt::Write;
    let text = |value: &serde_json::Value| value.as_str().unwrap_or("").to_owned();
    let mut out = format!(
        "{} ({}): {} in {}, at {}\nrule set {} revision {}, lists version {}\n",
        text(&answer["decision"]),
        text(&answer["decision_label"]),
        text(&answer["subject"]["id"]),
        text(&answer["matter"]),
        text(&answer["evaluated_at"]),
        text(&answer["ruleset"]["name"]),
        text(&answer["ruleset"]["revision"]),
        answer["lists_version"],
    );
    let reasons = answer["reasons"].as_array().map_or(&[][..], Vec::as_slice);
    if reasons.is_empty() {
        out += "no measure applies\n";
    }
    for reason in reasons {
        let _ = writeln!(
            out,
            "- {} ({}): measure {} {}\n  entry {} on list {} (topic {})",
            text(&reason["effect"]),
            text(&reason["effect_label"]),
            text(&reason["measure"]),
            text(&reason["measure_name"]),
            text(&reason["entry_id"]),
            text(&reason["list"]),
            text(&reason["topic"]),
        );
        if let Some(via) = reason["via"].as_object() {
            let _ = writeln!(
                out,
                "  through {} {}",
                via.get("role").map_or(String::new(), text),
                via.get("subject_id").map_or(String::new(), text),
            );
        }
        let _ = writeln!(out, "  legal basis: {}", text(&reason["legal_basis"]));
        for warning in reason["warnings"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  warning {}: {}",
                text(&warning["code"]),
                text(&warning["message"])
            );
        }
    }
    for warning in answer["warnings"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "warning {}: {}",
            text(&warning["code"]),
            text(&warning["message"])
        );
    }
    out
}

fn generate(args: GenArgs) -> anyhow::Result<ExitCode> {
    let rules = RuleSource::or_embedded(args.rules).load()?;
    let started = Instant::now();
    let create = |path: &std::path::Path| -> anyhow::Result<BufWriter<File>> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(BufWriter::with_capacity(1 << 20, file))
    };
    let mut entries = create(&args.out)?;
    let mut population = args.population.as_deref().map(create).transpose()?;
    let options = GenOptions {
        subjects: args.subjects,
        listed_ratio: args.listed_ratio,
        seed: args.seed,
    };
    let stats = gen::generate(
        &rules,
        options,
        &mut entries,
        population.as_mut().map(|p| p as &mut dyn std::io::Write),
    )?;
    eprintln!(
        "wrote {} entries for {} listed of {} subjects to {} in {:.1} s",
        stats.entries,
        stats.listed,
        stats.subjects,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let rules = RuleSource::or_embedded(args.rules.clone()).load()?;
    let lists = match &args.lists {
        Some(lists) if !args.snapshot_only => lists,
        _ => {
            let target = args.target().open(ColdCacheConfig::default());
            return store_snapshot(&target, &rules);
        }
    };
    let stored = |target: &Source| match args.no_snapshot {
        true => Ok(ExitCode::SUCCESS),
        false => store_snapshot(target, &rules),
    };
    // The whole file is validated before anything is written: a bad line refuses the import.
    let file = match Import::read(lists, &rules, args.replace_list.as_deref()) {
        Ok(file) => file,
        Err(ImportError::File(err)) => {
            eprintln!("{err}\nnothing was imported");
            return Ok(ExitCode::FAILURE);
        }
        Err(err) => return Err(err.into()),
    };
    let entries = file.entries();
    let target = args.target().open(ColdCacheConfig::default());
    let guard = args.guard();
    let import = match file.guard(&target, &rules, (!args.force).then_some(&guard)) {
        Ok(import) => import,
        Err(ImportError::Refused(refusal)) => {
            eprintln!("{refusal}\nnothing was imported; --force writes it anyway");
            return Ok(ExitCode::FAILURE);
        }
        Err(err) => return Err(err.into()),
    };
    if args.force && !import.shrink.lists.is_empty() {
        eprintln!(
            "warning: forced past the fail-closed guard: {}",
            import.shrink
        );
    }
    let started = Instant::now();
    if let Some(list) = import.replacing() {
        let stats = import.write(&rules, &|_| {})?;
        eprintln!(
            "replaced list `{list}`: {entries} entries ({} changed, {} already so), {} removed, in {:.1} s; list version {}",
            stats.changed,
            stats.unchanged,
            stats.removed,
            started.elapsed().as_secs_f64(),
            stats.version
        );
        return stored(&target);
    }
    let bar = indicatif::ProgressBar::new(entries as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} entries, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let stats = import.write(&rules, &|sent| bar.inc(sent))?;
    bar.finish_and_clear();
    eprintln!(
        "imported {entries} entries ({} changed, {} already so) in {:.1} s; list version {}",
        stats.changed,
        stats.unchanged,
        started.elapsed().as_secs_f64(),
        stats.version
    );
    stored(&target)
}

/// Stores a new snapshot of the lists in Redis. Another writer at it is no failure: the
/// snapshot it stores serves as well.
fn store_snapshot(target: &Source, rules: &RuleSet) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    match target.write_snapshot(rules) {
        Ok(written) => eprintln!(
            "stored the list snapshot of version {}: {} bytes in {} chunks, in {:.1} s",
            written.version,
            written.bytes,
            written.chunks,
            started.elapsed().as_secs_f64()
        ),
        Err(SnapshotWriteError::Locked) => {
            eprintln!("another writer is storing a list snapshot; left to it")
        }
        Err(err) => return Err(err.into()),
    }
    Ok(ExitCode::SUCCESS)
}
