//! Where the query register lives when no folder is set: a folder chosen for the user or the
//! service, never one that depends on where the service was started, except to keep reaching a
//! register that is already there.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The register's default folder before it was chosen here, relative to the working directory.
pub const OLD_REGISTER_DIR: &str = "audit";

/// The register's folder when none is set, and a warning to log when it is the old default:
/// - `./audit`, if a register is already there (its subject hash key, the folder and the key
///   this process's user's and writable by no one else), so that no register and no hash key is
///   lost to a new default, while a folder someone else made in a shared working directory
///   cannot choose the key that hashes the subjects;
/// - `$STATE_DIRECTORY/register`, the state directory systemd gives the service
///   (`StateDirectory=`; the first, if it lists several);
/// - `$XDG_STATE_HOME/jiangcheng/register`;
/// - `$HOME/.local/state/jiangcheng/register`;
/// - else `./audit`, with a warning.
///
/// `env` reads an environment variable; `old` is the old default's folder, looked into.
pub fn register_dir(
    env: impl Fn(&str) -> Option<OsString>,
    old: &Path,
) -> (PathBuf, Option<String>) {
    let set = |name: &str| {
        env(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    if holds_own_register(old) {
        let warning = format!(
            "the query register is in {}, the old default folder relative to the working directory: give --register-dir (JC_REGISTER_DIR, register_dir) {} to keep it there wherever the service starts",
            old.display(),
            std::path::absolute(old).unwrap_or_else(|_| old.to_path_buf()).display(),
        );
        return (old.to_path_buf(), Some(warning));
    }
    let state = env("STATE_DIRECTORY")
        .and_then(|dirs| std::env::split_paths(&dirs).find(|dir| !dir.as_os_str().is_empty()))
        .map(|dir| dir.join("register"));
    let chosen = state
        .or_else(|| set("XDG_STATE_HOME").map(|dir| dir.join("jiangcheng/register")))
        .or_else(|| set("HOME").map(|dir| dir.join(".local/state/jiangcheng/register")));
    match chosen {
        Some(dir) => (dir, None),
        None => (
            old.to_path_buf(),
            Some(format!(
                "the query register is in {} relative to the working directory: neither STATE_DIRECTORY, XDG_STATE_HOME nor HOME is set; give --register-dir",
                old.display()
            )),
        ),
    }
}

/// Whether `old` holds a register this process's user made: its subject hash key, and the
/// folder and the key owned by the user (`/proc/self`'s owner) and writable by no one else.
fn holds_own_register(old: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(user) = std::fs::metadata("/proc/self").map(|proc| proc.uid()) else {
        return false;
    };
    let own = |path: &Path| {
        std::fs::symlink_metadata(path)
            .is_ok_and(|metadata| metadata.uid() == user && metadata.mode() & 0o022 == 0)
    };
    own(old) && own(&old.join("subject-hash.key"))
}

/// The folder `name` (`watchlists`, `push`) when none is set: `$STATE_DIRECTORY/<name>` (the
/// first state directory systemd gives the service), `$XDG_STATE_HOME/jiangcheng/<name>`,
/// `$HOME/.local/state/jiangcheng/<name>`, else `./<name>`.
pub fn state_dir(env: impl Fn(&str) -> Option<OsString>, name: &str) -> PathBuf {
    let set = |variable: &str| {
        env(variable)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    env("STATE_DIRECTORY")
        .and_then(|dirs| std::env::split_paths(&dirs).find(|dir| !dir.as_os_str().is_empty()))
        .map(|dir| dir.join(name))
        .or_else(|| set("XDG_STATE_HOME").map(|dir| dir.join("jiangcheng").join(name)))
        .or_else(|| set("HOME").map(|dir| dir.join(".local/state/jiangcheng").join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// [`state_dir`] from the process's environment.
pub fn default_state_dir(name: &str) -> PathBuf {
    state_dir(|variable| std::env::var_os(variable), name)
}

/// [`register_dir`] from the process's environment and working directory.
pub fn default_register_dir() -> (PathBuf, Option<String>) {
    register_dir(|name| std::env::var_os(name), Path::new(OLD_REGISTER_DIR))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn systemds_state_directory_comes_first_then_xdg_then_home() {
        let empty = tempfile::tempdir().unwrap();
        let old = empty.path().join("audit");
        let all = [
            ("STATE_DIRECTORY", "/var/lib/jiangcheng:/var/lib/other"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(
            register_dir(env(&all), &old),
            (PathBuf::from("/var/lib/jiangcheng/register"), None)
        );
        assert_eq!(
            register_dir(env(&all[1..]), &old),
            (PathBuf::from("/x/jiangcheng/register"), None)
        );
        assert_eq!(
            register_dir(env(&[("XDG_STATE_HOME", ""), ("HOME", "/home/u")]), &old),
            (
                PathBuf::from("/home/u/.local/state/jiangcheng/register"),
                None
            )
        );
        let (dir, warning) = register_dir(env(&[]), &old);
        assert_eq!(dir, old);
        assert!(warning.is_some_and(|w| w.contains("give --register-dir")));
    }

    #[test]
    fn the_watchlists_and_push_folders_follow_the_same_state_folders() {
        assert_eq!(
            state_dir(
                env(&[("STATE_DIRECTORY", "/var/lib/jiangcheng"), ("HOME", "/h")]),
                "watchlists"
            ),
            PathBuf::from("/var/lib/jiangcheng/watchlists")
        );
        assert_eq!(
            state_dir(
                env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")]),
                "watchlists"
            ),
            PathBuf::from("/x/jiangcheng/watchlists")
        );
        assert_eq!(
            state_dir(env(&[("HOME", "/h")]), "watchlists"),
            PathBuf::from("/h/.local/state/jiangcheng/watchlists")
        );
        assert_eq!(
            state_dir(env(&[]), "watchlists"),
            PathBuf::from("watchlists")
        );
        assert_eq!(
            state_dir(env(&[("HOME", "/h")]), "push"),
            PathBuf::from("/h/.local/state/jiangcheng/push")
        );
    }

    #[test]
    fn an_existing_register_in_the_old_folder_is_kept_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("audit");
        std::fs::create_dir(&old).unwrap();
        let home = [("HOME", "/home/u")];
        // An empty folder holds no register.
        assert_eq!(
            register_dir(env(&home), &old).0,
            PathBuf::from("/home/u/.local/state/jiangcheng/register")
        );
        std::fs::write(old.join("subject-hash.key"), "00").unwrap();
        let (chosen, warning) = register_dir(env(&home), &old);
        assert_eq!(chosen, old);
        let warning = warning.expect("a warning");
        assert!(
            warning.contains(&format!(
                "--register-dir (JC_REGISTER_DIR, register_dir) {}",
                old.display()
            )),
            "{warning}"
        );
        // A folder or key others may write, as in a shared working directory such as /tmp, is
        // not taken: whoever made it could have chosen the key that hashes the subjects.
        use std::os::unix::fs::PermissionsExt;
        let key = old.join("subject-hash.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o660)).unwrap();
        assert_ne!(register_dir(env(&home), &old).0, old);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_ne!(register_dir(env(&home), &old).0, old);
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(register_dir(env(&home), &old).0, old);
    }
}
