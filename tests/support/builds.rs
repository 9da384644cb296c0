//! Plugin builds side by side, for upgrade and rollback tests and declarative registration: each
//! build is installed in the server's plugin directory under its own versioned file name
//! (`vault-plugin-secrets-ai-keys-vX.Y.Z`), as scripts/release.sh names it, so that two
//! versions can be registered at once.
//!
//! [`PluginBuild::current`] is the build cargo made for this test run; [`PluginBuild::v2`] is
//! the rehearsal build scripts/build-upgrade-plugin.sh makes from the same source, reporting the
//! next patch version.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::server::{sha256_hex, Bao, PLUGIN_COMMAND};

/// One plugin binary and what it reports about itself.
#[derive(Debug, Clone)]
pub struct PluginBuild {
    /// Where cargo (or the rehearsal script) left it.
    pub path: PathBuf,
    /// What `--version` prints after the name: `vX.Y.Z`.
    pub version: String,
    /// sha256 (hex) of the file.
    pub sha256: String,
}

impl PluginBuild {
    /// The build cargo made for this test run (`CARGO_BIN_EXE_...`).
    pub fn current() -> &'static PluginBuild {
        static BUILD: OnceLock<PluginBuild> = OnceLock::new();
        BUILD.get_or_init(|| {
            PluginBuild::at(Path::new(env!(
                "CARGO_BIN_EXE_vault-plugin-secrets-ai-keys"
            )))
        })
    }

    /// The rehearsal build, `<target dir>/upgrade-rehearsal/vault-plugin-secrets-ai-keys`,
    /// which scripts/build-upgrade-plugin.sh makes (scripts/test.sh runs it first).
    pub fn v2() -> &'static PluginBuild {
        static BUILD: OnceLock<PluginBuild> = OnceLock::new();
        BUILD.get_or_init(|| {
            let current = Path::new(env!("CARGO_BIN_EXE_vault-plugin-secrets-ai-keys"));
            let target_dir = current
                .parent()
                .and_then(Path::parent)
                .expect("the cargo binary lives in <target dir>/<profile>/");
            let path = target_dir.join("upgrade-rehearsal").join(PLUGIN_COMMAND);
            assert!(
                path.is_file(),
                "no rehearsal build at {}: run scripts/build-upgrade-plugin.sh first \
                 (scripts/test.sh does)",
                path.display()
            );
            let build = PluginBuild::at(&path);
            assert_ne!(
                build.version,
                PluginBuild::current().version,
                "the rehearsal build reports the current version: rebuild it with \
                 scripts/build-upgrade-plugin.sh"
            );
            build
        })
    }

    fn at(path: &Path) -> PluginBuild {
        let version = reported_version(path);
        PluginBuild {
            path: path.to_owned(),
            version,
            sha256: sha256_hex(path),
        }
    }

    /// The file name it is installed under, and the catalog `command`.
    pub fn command(&self) -> String {
        format!("{PLUGIN_COMMAND}-{}", self.version)
    }

    /// Copies the build into `bao`'s plugin directory under [`PluginBuild::command`] and waits
    /// until the copy runs (no `ETXTBSY` from a concurrent test's fork) and reports
    /// [`PluginBuild::version`]. Returns the copy's canonical path.
    pub fn install(&self, bao: &Bao) -> PathBuf {
        install_in(&bao.dir.path().join("plugins"), self)
    }
}

/// [`PluginBuild::install`] into any plugin directory (before a server exists, for a
/// declarative configuration).
pub fn install_in(plugin_dir: &Path, build: &PluginBuild) -> PathBuf {
    let target = plugin_dir.join(build.command());
    let tmp = plugin_dir.join(format!(".{}.tmp", build.command()));
    fs::copy(&build.path, &tmp).unwrap_or_else(|e| {
        panic!(
            "copying {} into {}: {e}",
            build.path.display(),
            tmp.display()
        )
    });
    fs::rename(&tmp, &target).expect("renaming the copied plugin into place");
    let target = target.canonicalize().expect("canonical plugin path");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match try_version(&target) {
            Ok(version) => {
                assert_eq!(version, build.version, "the copy at {}", target.display());
                return target;
            }
            Err(e) if e.kind() == ErrorKind::ExecutableFileBusy && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("running {} --version: {e}", target.display()),
        }
    }
}

/// `vX.Y.Z` from `<path> --version`.
fn reported_version(path: &Path) -> String {
    try_version(path).unwrap_or_else(|e| panic!("running {} --version: {e}", path.display()))
}

fn try_version(path: &Path) -> std::io::Result<String> {
    let out = Command::new(path)
        .arg("--version")
        .env_clear()
        .stdin(Stdio::null())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let version = stdout
        .trim()
        .strip_prefix(&format!("{PLUGIN_COMMAND} "))
        .filter(|v| out.status.success() && v.starts_with('v'))
        .unwrap_or_else(|| {
            panic!(
                "{} --version printed {stdout:?} ({})",
                path.display(),
                out.status
            )
        });
    Ok(version.to_owned())
}
