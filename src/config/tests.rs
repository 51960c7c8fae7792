use super::*;

fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/jiangcheng.toml")
}

/// A config file holding `text`, in a folder that lives as long as the first value.
fn config_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jiangcheng.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn the_example_config_sets_every_default_it_names() {
    let with_example = ServeArgs {
        config: Some(example_config()),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap_or_else(|err| panic!("{err}"));
    let without = ServeArgs::default().resolve().unwrap();
    assert_eq!(format!("{with_example:?}"), format!("{without:?}"));
}

#[test]
fn the_example_config_names_every_setting_of_the_file() {
    let text = std::fs::read_to_string(example_config()).unwrap();
    // The commented-out keys too: uncommented, the file must still be a valid config.
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' ')) =>
            {
                rest
            }
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let parsed: Result<ServeArgs, _> = toml::from_str(&uncommented);
    assert!(parsed.is_ok(), "{parsed:?}");
    let named: Vec<&str> = uncommented
        .lines()
        .filter_map(|line| line.split_once(" = ").map(|(key, _)| key))
        .collect();
    let command = clap::Command::new("serve");
    let command = ServeArgs::augment_args(command);
    let not_in_a_file = ["config", "force_next_load", "bench_routes"];
    for arg in command.get_arguments() {
        let key = arg.get_id().as_str();
        if !not_in_a_file.contains(&key) {
            assert!(named.contains(&key), "deploy/jiangcheng.toml lacks `{key}`");
        }
    }
}

#[test]
fn the_doc_comments_the_example_config_and_the_operations_guide_agree_on_every_setting() {
    let example: toml::Table =
        toml::from_str(&std::fs::read_to_string(example_config()).unwrap()).unwrap();
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"))
            .unwrap();
    let command = ServeArgs::augment_args(clap::Command::new("serve"));
    for arg in command.get_arguments() {
        let key = arg.get_id().as_str();
        let flag = format!("`--{}`", arg.get_long().unwrap());
        let env = format!("`{}`", arg.get_env().unwrap().to_string_lossy());
        assert!(
            guide.contains(&flag) && guide.contains(&env),
            "docs/operations.md lacks {flag} or {env}"
        );
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let default = help
            .split_once("[default: ")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(default, _)| default);
        match (default, example.get(key)) {
            (Some(default), Some(value)) => assert_eq!(
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned),
                default,
                "`{key}`: the doc comment's default is not deploy/jiangcheng.toml's"
            ),
            (None, Some(value)) => assert_eq!(
                value.as_bool(),
                Some(false),
                "`{key}` has no default in its doc comment"
            ),
            // Computed defaults and settings that are not in a file: commented out, or not
            // there at all (the test above).
            (_, None) => {}
        }
    }
}

#[test]
fn the_old_audit_flags_and_config_keys_still_set_the_register() {
    let (_dir, path) = config_file("audit_queue = 5\naudit_required = true\n");
    let cli = Cli::try_parse_from([
        "jiangcheng".as_ref(),
        "serve".as_ref(),
        "--audit".as_ref(),
        "off".as_ref(),
        "--audit-dir".as_ref(),
        "/old".as_ref(),
        "--config".as_ref(),
        path.as_os_str(),
    ])
    .unwrap();
    let Command::Serve(args) = cli.command else {
        unreachable!("parsed as serve")
    };
    let register = args.resolve().unwrap().register;
    assert_eq!(register.sink, Sink::Off);
    assert_eq!(register.dir, PathBuf::from("/old"));
    assert_eq!(register.queue_records, 5);
    assert!(register.required);
    std::fs::write(&path, "audit_queue = 5\nregister_queue = 6\n").unwrap();
    let both = ServeArgs {
        config: Some(path),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap_err();
    assert!(both.to_string().contains("register_queue"), "{both}");
}

#[test]
fn the_registers_redis_prefix_is_a_setting_and_keeps_the_name_its_keys_were_stored_under() {
    let sink = |prefix: Option<&str>| {
        ServeArgs {
            register: Some("redis://127.0.0.1:6379/".into()),
            register_prefix: prefix.map(str::to_owned),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap()
        .register
        .sink
    };
    let redis = |prefix: &str| Sink::Redis {
        url: "redis://127.0.0.1:6379/".into(),
        prefix: prefix.into(),
    };
    assert_eq!(sink(None), redis("jc:{audit}:"));
    assert_eq!(sink(Some("jc:{register}:")), redis("jc:{register}:"));
}

#[test]
fn flags_win_over_the_file_and_the_file_over_defaults() {
    let (_dir, path) = config_file("listen = \"127.0.0.1:9000\"\nmax_batch = 50\nworkers = 3\n");
    let args = ServeArgs {
        config: Some(path),
        workers: Some(1),
        ..ServeArgs::default()
    };
    let settings = args.resolve().unwrap();
    assert_eq!(settings.listen, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(settings.limits.max_batch, 50);
    assert_eq!(settings.workers, 1);
    assert_eq!(settings.rules, RuleSource::Embedded);
    assert_eq!(settings.lists, ListSource::Embedded);
    assert_eq!(
        settings.limits.max_body_bytes,
        Limits::default().max_body_bytes
    );
}

#[test]
fn the_access_settings_come_from_flags_the_file_or_their_defaults() {
    let (_dir, path) = config_file("max_as_of_skew_seconds = 60\nauth_warnings_per_minute = 5\n");
    let access = ServeArgs {
        config: Some(path.clone()),
        auth_failures_per_minute: Some(3),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap()
    .access;
    assert_eq!(
        access,
        AccessConfig {
            max_as_of_skew: Duration::from_secs(60),
            auth_failures_per_minute: 3,
            auth_warnings_per_minute: 5,
            ..AccessConfig::default()
        }
    );
    assert_eq!(
        ServeArgs::default().resolve().unwrap().access,
        AccessConfig::default()
    );
    let zero = ServeArgs {
        auth_failures_per_minute: Some(0),
        ..ServeArgs::default()
    };
    assert!(matches!(
        zero.resolve(),
        Err(ConfigError::Zero("auth_failures_per_minute"))
    ));
}

#[test]
fn an_unknown_key_in_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "listne = \"127.0.0.1:9000\"\n").unwrap();
    let err = ServeArgs {
        config: Some(path),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap_err();
    assert!(err.to_string().contains("listne"), "{err}");
}

#[test]
fn the_list_guard_comes_from_flags_or_the_file_and_a_share_past_1_is_refused() {
    assert_eq!(
        ServeArgs::default().resolve().unwrap().guard,
        ShrinkGuard::default()
    );
    let (_dir, path) = config_file("max_list_shrink = 0.2\nlist_shrink_min_entries = 1000\n");
    let settings = ServeArgs {
        config: Some(path.clone()),
        list_shrink_min_entries: Some(10),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(
        settings.guard,
        ShrinkGuard {
            max_shrink: 0.2,
            min_list_entries: 10
        }
    );
    assert!(!settings.force_next_load);
    std::fs::write(&path, "max_list_shrink = 50.0\n").unwrap();
    let err = ServeArgs {
        config: Some(path),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap_err();
    assert!(matches!(err, ConfigError::Share(_)), "{err}");
    assert!(share("0.5").is_ok() && share("1.5").is_err() && share("NaN").is_err());
}

#[test]
fn a_redis_url_names_the_redis_source_and_other_urls_are_refused() {
    let args = ServeArgs {
        lists: Some("redis://:secret@127.0.0.1:6379/0".into()),
        ..ServeArgs::default()
    };
    let lists = args.resolve().unwrap().lists;
    assert_eq!(lists.kind(), "redis");
    assert_eq!(lists.location(), "redis://127.0.0.1:6379/0");
    let args = ServeArgs {
        lists: Some("http://example.invalid/lists".into()),
        ..ServeArgs::default()
    };
    assert!(matches!(
        args.resolve(),
        Err(ConfigError::UnsupportedSource(_))
    ));
}

#[test]
fn the_redis_timeout_and_connections_reach_the_list_source_and_zero_is_refused() {
    let url = "redis://127.0.0.1:6379/";
    let lists = |flags: ServeArgs, file: &str| {
        let (_dir, path) = config_file(file);
        ServeArgs {
            lists: Some(url.into()),
            config: Some(path),
            ..flags
        }
        .resolve()
        .map(|settings| settings.lists)
    };
    let redis = |timeout_ms: u64, connections: usize| ListSource::Redis {
        url: url.to_owned(),
        prefix: crate::lists::source::DEFAULT_PREFIX.to_owned(),
        timeout: Duration::from_millis(timeout_ms),
        connections,
        wait: crate::lists::source::ReplicaWait::for_url(url),
    };
    let timeout = |ms: u64| ServeArgs {
        redis_timeout_ms: Some(ms),
        ..ServeArgs::default()
    };
    let connections = |count: usize| ServeArgs {
        redis_connections: Some(count),
        ..ServeArgs::default()
    };
    assert_eq!(lists(ServeArgs::default(), "").unwrap(), redis(2000, 16));
    let file = "redis_timeout_ms = 750\nredis_connections = 4\n";
    assert_eq!(lists(ServeArgs::default(), file).unwrap(), redis(750, 4));
    assert_eq!(lists(timeout(300), file).unwrap(), redis(300, 4));
    assert_eq!(lists(connections(32), file).unwrap(), redis(750, 32));
    assert!(matches!(
        lists(timeout(0), ""),
        Err(ConfigError::Zero("redis_timeout_ms"))
    ));
    assert!(matches!(
        lists(ServeArgs::default(), "redis_connections = 0\n"),
        Err(ConfigError::Zero("redis_connections"))
    ));
}

#[test]
fn writes_wait_for_one_replica_behind_sentinels_or_on_a_cluster_by_default_and_the_wait_is_set_or_refused(
) {
    let wait = |url: &str, flags: ServeArgs, file: &str| {
        let (_dir, path) = config_file(file);
        let lists = ServeArgs {
            lists: Some(url.into()),
            config: Some(path),
            ..flags
        }
        .resolve()
        .map(|settings| settings.lists)?;
        Ok::<_, ConfigError>(match lists {
            ListSource::Redis { wait, .. } => (wait.replicas, wait.timeout.as_millis()),
            other => panic!("not redis: {other:?}"),
        })
    };
    let sentinel = "redis+sentinel://127.0.0.1:26379/main";
    let single = "redis://127.0.0.1:6379/";
    assert_eq!(wait(sentinel, ServeArgs::default(), "").unwrap(), (1, 1000));
    assert_eq!(wait(single, ServeArgs::default(), "").unwrap(), (0, 1000));
    let cluster = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001";
    assert_eq!(wait(cluster, ServeArgs::default(), "").unwrap(), (1, 1000));
    let file = "redis_wait_replicas = 2\nredis_wait_timeout_ms = 300\n";
    assert_eq!(wait(single, ServeArgs::default(), file).unwrap(), (2, 300));
    let flags = ServeArgs {
        redis_wait_replicas: Some(0),
        ..ServeArgs::default()
    };
    assert_eq!(wait(sentinel, flags, file).unwrap(), (0, 300));
    assert!(matches!(
        wait(sentinel, ServeArgs::default(), "redis_timeout_ms = 1000\n"),
        Err(ConfigError::WaitOverTimeout { .. })
    ));
}

#[test]
fn the_registers_spill_retention_and_readiness_settings_come_from_the_file_or_flags() {
    let defaults = ServeArgs::default().resolve().unwrap().register;
    assert_eq!(defaults.spill_path(), defaults.dir);
    assert_eq!(defaults.archive_path(), Some(defaults.dir.join("archive")));
    assert_eq!(defaults.retention_days, 190);
    assert!(!defaults.required);
    let (_dir, path) = config_file("register_spill_dir = \"/spill\"\nregister_required = true\nregister_retention_days = 400\n\
         register_expired = \"delete\"\nregister_archive_dir = \"/archive\"\n");
    let register = ServeArgs {
        config: Some(path.clone()),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap()
    .register;
    assert_eq!(register.spill_path(), PathBuf::from("/spill"));
    assert!(register.required);
    assert_eq!(register.retention_days, 400);
    assert_eq!(register.archive_path(), None, "deleted, not archived");
    let register = ServeArgs {
        config: Some(path),
        register_retention_days: Some(30),
        register_expired: Some(Expiry::Archive),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap()
    .register;
    assert_eq!(register.retention_days, 30);
    assert_eq!(register.archive_path(), Some(PathBuf::from("/archive")));
    assert!(matches!(
        ServeArgs {
            register_retention_days: Some(0),
            ..ServeArgs::default()
        }
        .resolve(),
        Err(ConfigError::Zero("register_retention_days"))
    ));
}

#[test]
fn the_register_follows_the_list_source_unless_told() {
    let sink = |lists: Option<&str>, register: Option<&str>| {
        ServeArgs {
            lists: lists.map(str::to_owned),
            register: register.map(str::to_owned),
            ..ServeArgs::default()
        }
        .resolve()
        .map(|settings| settings.register.sink)
    };
    let redis = Sink::Redis {
        url: "redis://127.0.0.1:6379/".into(),
        prefix: crate::register::DEFAULT_PREFIX.into(),
    };
    assert_eq!(sink(None, None).unwrap(), Sink::Files);
    assert_eq!(sink(Some("redis://127.0.0.1:6379/"), None).unwrap(), redis);
    assert_eq!(sink(None, Some("redis://127.0.0.1:6379/")).unwrap(), redis);
    assert_eq!(
        sink(Some("redis://127.0.0.1:6379/"), Some("files")).unwrap(),
        Sink::Files
    );
    assert_eq!(sink(None, Some("off")).unwrap(), Sink::Off);
    assert!(matches!(
        sink(None, Some("kafka://broker")),
        Err(ConfigError::UnsupportedRegister(_))
    ));
}

#[test]
fn the_corrections_limit_comes_from_the_flag_the_file_or_its_default() {
    let (_dir, path) = config_file("feedback_max_corrections = 3\n");
    let limit = |flag: Option<usize>, file: bool| {
        ServeArgs {
            config: file.then(|| path.clone()),
            feedback_max_corrections: flag,
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap()
        .register
        .max_corrections
    };
    assert_eq!(limit(None, false), 20);
    assert_eq!(limit(None, true), 3);
    assert_eq!(limit(Some(0), true), 0, "0 turns corrections off");
}

#[test]
fn the_limits_come_from_flags_the_file_or_their_defaults() {
    let (_dir, path) =
        config_file("body_timeout_seconds = 3\nmax_batches_in_flight = 4\nlisten_backlog = 4096\n");
    let limits = ServeArgs {
        config: Some(path),
        body_timeout_seconds: Some(5),
        shutdown_grace_seconds: Some(0),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap()
    .limits;
    assert_eq!(limits.body_timeout, Duration::from_secs(5));
    assert_eq!(limits.max_batches_in_flight, 4);
    assert_eq!(limits.listen_backlog, 4096);
    assert_eq!(limits.shutdown_grace, Duration::ZERO);
    let defaults = ServeArgs::default().resolve().unwrap().limits;
    assert_eq!(defaults.body_timeout, Duration::from_secs(10));
    assert_eq!(defaults.shutdown_grace, Duration::from_secs(10));
    assert_eq!(defaults.listen_backlog, 1024);
    assert_eq!(defaults.write_timeout, Duration::from_secs(30));
    assert_eq!(
        (defaults.max_in_flight, defaults.max_batches_in_flight),
        (256, 16)
    );
}

#[test]
fn a_zero_timeout_or_a_batch_pool_as_large_as_the_request_pool_is_refused() {
    let zero = ServeArgs {
        body_timeout_seconds: Some(0),
        ..ServeArgs::default()
    };
    assert!(matches!(
        zero.resolve(),
        Err(ConfigError::Zero("body_timeout_seconds"))
    ));
    let crowded = ServeArgs {
        max_in_flight: Some(8),
        max_batches_in_flight: Some(8),
        ..ServeArgs::default()
    };
    assert!(matches!(
        crowded.resolve(),
        Err(ConfigError::BatchesCrowdOut { .. })
    ));
}

#[test]
fn the_cold_filers_bound_comes_from_the_flag_the_file_or_its_default_and_zero_is_refused() {
    let max_filers = |flags: ServeArgs, file: &str| {
        let (_dir, path) = config_file(file);
        ServeArgs {
            config: Some(path),
            ..flags
        }
        .resolve()
        .map(|settings| settings.cold_cache.max_filers)
    };
    let flag = ServeArgs {
        cold_max_filers: Some(8),
        ..ServeArgs::default()
    };
    assert_eq!(max_filers(ServeArgs::default(), "").unwrap(), 64);
    assert_eq!(
        max_filers(ServeArgs::default(), "cold_max_filers = 4\n").unwrap(),
        4
    );
    assert_eq!(max_filers(flag, "cold_max_filers = 4\n").unwrap(), 8);
    assert!(matches!(
        max_filers(ServeArgs::default(), "cold_max_filers = 0\n"),
        Err(ConfigError::Zero("cold_max_filers"))
    ));
}

#[test]
fn the_log_clock_is_utc_local_or_an_offset_and_anything_else_is_refused() {
    assert_eq!(
        ServeArgs::default().resolve().unwrap().log_time,
        LogTime::Utc
    );
    let offset = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    assert_eq!("+08:00".parse(), Ok(LogTime::Offset(offset)));
    assert_eq!("local".parse(), Ok(LogTime::Local));
    let parsed: ServeArgs = toml::from_str("log_time = \"+08:00\"\n").unwrap();
    assert_eq!(parsed.log_time, Some(LogTime::Offset(offset)));
    let refused = "beijing".parse::<LogTime>().unwrap_err();
    assert!(refused.contains("+08:00"), "{refused}");
    assert!(toml::from_str::<ServeArgs>("log_time = \"CST\"\n").is_err());
}

#[test]
fn the_bidder_list_limits_come_from_flags_the_file_or_their_defaults_and_zero_is_refused() {
    let (_dir, path) = config_file("sheet_max_unzipped_bytes = 1048576\nsheet_max_cell_chars = 64\nsheet_timeout_seconds = 2\n");
    let sheets = ServeArgs {
        config: Some(path),
        sheet_timeout_seconds: Some(9),
        ..ServeArgs::default()
    }
    .resolve()
    .unwrap()
    .limits
    .sheets;
    assert_eq!(sheets.max_unzipped_bytes, 1 << 20);
    assert_eq!(sheets.max_cell_chars, 64);
    assert_eq!(sheets.timeout, Duration::from_secs(9));
    let defaults = ServeArgs::default().resolve().unwrap().limits.sheets;
    assert_eq!(defaults.max_unzipped_bytes, 32 << 20);
    assert_eq!(defaults.max_cell_chars, 256);
    assert_eq!(defaults.timeout, Duration::from_secs(5));
    for (zero, name) in [
        (
            ServeArgs {
                sheet_max_unzipped_bytes: Some(0),
                ..ServeArgs::default()
            },
            "sheet_max_unzipped_bytes",
        ),
        (
            ServeArgs {
                sheet_max_cell_chars: Some(0),
                ..ServeArgs::default()
            },
            "sheet_max_cell_chars",
        ),
        (
            ServeArgs {
                sheet_timeout_seconds: Some(0),
                ..ServeArgs::default()
            },
            "sheet_timeout_seconds",
        ),
    ] {
        assert!(
            matches!(zero.resolve(), Err(ConfigError::Zero(refused)) if refused == name),
            "{name}"
        );
    }
}

#[test]
fn cors_origins_come_from_the_flag_or_the_file_and_must_be_origins_a_browser_sends() {
    let origins = |flags: ServeArgs, file: &str| {
        let (_dir, path) = config_file(file);
        ServeArgs {
            config: Some(path),
            ..flags
        }
        .resolve()
        .map(|settings| settings.cors_origins)
    };
    assert!(origins(ServeArgs::default(), "").unwrap().is_empty());
    assert_eq!(
        origins(
            ServeArgs::default(),
            "cors_origins = [\"https://portal.example.gov.cn\", \"http://[::1]:8080\"]\n"
        )
        .unwrap(),
        ["https://portal.example.gov.cn", "http://[::1]:8080"]
    );
    let matches = ServeArgs::augment_args(clap::Command::new("serve"))
        .try_get_matches_from([
            "serve",
            "--cors-origins",
            "https://a.example:8443,http://localhost:5173",
        ])
        .unwrap();
    let flag = ServeArgs::from_arg_matches(&matches).unwrap();
    assert_eq!(
        origins(flag, "cors_origins = [\"https://b.example\"]\n").unwrap(),
        ["https://a.example:8443", "http://localhost:5173"]
    );
    for bad in [
        "*",
        "null",
        "https://a.example/",
        "https://a.example/path",
        "https://A.example",
        "ftp://a.example",
        "a.example",
        "https://a.example:0",
        "https://a.example:65536",
        "https://*.example",
    ] {
        let file = format!("cors_origins = [\"{bad}\"]\n");
        assert!(
            matches!(origins(ServeArgs::default(), &file), Err(ConfigError::CorsOrigin(ref o)) if o == bad),
            "{bad}"
        );
    }
}
