//! Fixture files for the importers' tests: the small Instagram export in
//! `crates/formats/tests/fixtures/instagram-export/` (a folder, as an export unzips
//! to), the other formats' fixtures ([`fixture`]), and [`zip_dir`] to make the .zip a
//! user would upload.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The fixture Instagram export (owner "Cleo Park": two one-to-one threads — Júlia's
/// in Meta's escaped UTF-8 with an emoji, a photo and a share; Sam's with a message
/// that has no time —, a group thread, a JSON file that is not a thread, and
/// followers/following lists).
pub fn instagram_export() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../formats/tests/fixtures/instagram-export")
}

/// A fixture file or folder of `crates/formats/tests/fixtures/` by name:
/// `linkedin-export` (Connections.csv behind LinkedIn's notes, messages.csv with a
/// multi-line message and a bad date), `contacts.csv` (BOM, `;`, a quoted newline),
/// `contacts.vcf` (folded, quoted-printable Latin-1, a truncated last card),
/// `mail.mbox` (garbage before the first separator, encoded-word headers, a Latin-1
/// body, a multipart with an attachment, a duplicate Message-ID, a message with no
/// Message-ID, a truncated last message).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../formats/tests/fixtures")
        .join(name)
}

/// Zips the folder `dir` into `to` (paths relative to `dir`, in name order).
pub fn zip_dir(dir: &Path, to: &Path) -> std::io::Result<()> {
    fn walk(root: &Path, dir: &Path, w: &mut zip::ZipWriter<std::fs::File>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, w)?;
            } else {
                let name = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                w.start_file(name, zip::write::SimpleFileOptions::default())
                    .map_err(std::io::Error::other)?;
                w.write_all(&std::fs::read(&p)?)?;
            }
        }
        Ok(())
    }
    let mut w = zip::ZipWriter::new(std::fs::File::create(to)?);
    walk(dir, dir, &mut w)?;
    w.finish().map_err(std::io::Error::other)?;
    Ok(())
}
