//! A folder or a zip as one tree of files ([`Tree`]), read within bounds: an export
//! arrives as either, and a zip may lie about its sizes or be a bomb (a few KB that
//! inflate to gigabytes). Every read is capped twice — by the entry's declared size
//! and by counting the bytes actually inflated ([`Limits`]) — and a zip whose
//! declared sizes add up past the total, or whose entries inflate more than
//! [`Limits::max_ratio`] times their compressed size, is refused before anything is
//! inflated. Paths are relative, `/`-separated, and never leave the tree (`..`,
//! absolute paths and symbolic links are skipped).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The bounds of reading a tree.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file read (inflated bytes).
    pub max_file: u64,
    /// Largest sum of the files of a zip (declared, inflated).
    pub max_total: u64,
    /// Most entries in a zip.
    pub max_entries: usize,
    /// Largest inflated ÷ compressed size of a zip entry over 1 MiB.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file: 512 * 1024 * 1024,
            max_total: 16 * 1024 * 1024 * 1024,
            max_entries: 500_000,
            max_ratio: 200,
        }
    }
}

/// Why a tree or one of its files cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a zip file we can read: {0}")]
    Zip(String),
    #[error("{0}")]
    Refused(String),
}

/// A file of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative, `/`-separated.
    pub path: String,
    /// Declared (zip) or actual (folder) size in bytes.
    pub size: u64,
}

/// A folder or a zip.
#[derive(Debug)]
pub enum Tree {
    Dir {
        root: PathBuf,
        entries: Vec<Entry>,
    },
    Zip {
        name: String,
        zip: Box<zip::ZipArchive<File>>,
        entries: Vec<Entry>,
    },
}

impl Tree {
    /// Opens `path`: a folder, or a zip (by its content, whatever its name).
    pub fn open(path: &Path, limits: &Limits) -> Result<Tree, TreeError> {
        if path.is_dir() {
            let mut entries = Vec::new();
            walk(path, path, &mut entries, limits)?;
            entries.sort_by(|a, b| a.path.cmp(&b.path));
            return Ok(Tree::Dir {
                root: path.to_path_buf(),
                entries,
            });
        }
        let file = File::open(path)?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| TreeError::Zip(e.to_string()))?;
        if zip.len() > limits.max_entries {
            return Err(TreeError::Refused(format!(
                "the zip holds {} files; at most {} are read",
                zip.len(),
                limits.max_entries
            )));
        }
        let mut entries = Vec::new();
        let mut total: u64 = 0;
        for i in 0..zip.len() {
            let f = zip
                .by_index_raw(i)
                .map_err(|e| TreeError::Zip(e.to_string()))?;
            if f.is_dir() || f.is_symlink() {
                continue;
            }
            let Some(name) = f.enclosed_name() else {
                continue;
            };
            let size = f.size();
            let packed = f.compressed_size().max(1);
            if size > 1024 * 1024 && size / packed > limits.max_ratio {
                return Err(TreeError::Refused(format!(
                    "{} inflates {}× (from {packed} to {size} bytes): refused as a zip bomb",
                    name.display(),
                    size / packed
                )));
            }
            total = total.saturating_add(size);
            if total > limits.max_total {
                return Err(TreeError::Refused(format!(
                    "the zip inflates to more than {} bytes: refused",
                    limits.max_total
                )));
            }
            entries.push(Entry {
                path: slash_path(&name),
                size,
            });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Tree::Zip {
            name: path.display().to_string(),
            zip: Box::new(zip),
            entries,
        })
    }

    /// A zip named `name` in problems (an upload's file name instead of the scratch
    /// file it was written to); a folder keeps its path.
    pub fn named(mut self, name: &str) -> Tree {
        if let Tree::Zip { name: n, .. } = &mut self {
            *n = name.to_string();
        }
        self
    }

    pub fn entries(&self) -> &[Entry] {
        match self {
            Tree::Dir { entries, .. } | Tree::Zip { entries, .. } => entries,
        }
    }

    /// How problems name a file of the tree (`export.zip:path`, or the file's path).
    pub fn label(&self, path: &str) -> String {
        match self {
            Tree::Dir { root, .. } => root.join(path).display().to_string(),
            Tree::Zip { name, .. } => format!("{name}:{path}"),
        }
    }

    /// The file at `path`, whole, at most `max` bytes (else refused, naming the bound).
    pub fn read(&mut self, path: &str, max: u64) -> Result<Vec<u8>, TreeError> {
        let mut out = Vec::new();
        self.open_file(path, max)?.read_to_end(&mut out)?;
        Ok(out)
    }

    /// A reader of the file at `path` that fails once more than `max` bytes come out
    /// of it (a lying header cannot inflate past it).
    pub fn open_file(&mut self, path: &str, max: u64) -> Result<Box<dyn Read + '_>, TreeError> {
        let reader: Box<dyn Read + '_> = match self {
            Tree::Dir { root, .. } => Box::new(File::open(root.join(path))?),
            Tree::Zip { zip, .. } => Box::new(
                zip.by_name(path)
                    .map_err(|e| TreeError::Zip(e.to_string()))?,
            ),
        };
        Ok(Box::new(Bounded {
            inner: reader,
            left: max,
            max,
        }))
    }
}

/// A reader that errs past `max` bytes.
struct Bounded<R> {
    inner: R,
    left: u64,
    max: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left + 1).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(io::Error::other(format!(
                "the file is larger than {} bytes: refused",
                self.max
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Entry>, limits: &Limits) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let kind = e.file_type()?;
        if kind.is_symlink() {
            continue;
        }
        let path = e.path();
        if kind.is_dir() {
            walk(root, &path, out, limits)?;
        } else if kind.is_file() {
            if out.len() >= limits.max_entries {
                return Err(io::Error::other(format!(
                    "the folder holds more than {} files; at most that many are read",
                    limits.max_entries
                )));
            }
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(Entry {
                path: slash_path(rel),
                size: e.metadata()?.len(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("everreach-formats-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn zip_of(path: &Path, files: &[(&str, &[u8])]) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn a_folder_and_a_zip_read_the_same() {
        let dir = scratch("tree");
        std::fs::create_dir_all(dir.join("d/inbox")).unwrap();
        std::fs::write(dir.join("d/inbox/a.json"), b"{}").unwrap();
        let zip = dir.join("export.zip");
        zip_of(&zip, &[("inbox/a.json", b"{}")]);
        let mut t = Tree::open(&dir.join("d"), &Limits::default()).unwrap();
        assert_eq!(t.entries()[0].path, "inbox/a.json");
        assert_eq!(t.read("inbox/a.json", 10).unwrap(), b"{}");
        let mut z = Tree::open(&zip, &Limits::default()).unwrap();
        assert_eq!(z.entries()[0].path, "inbox/a.json");
        assert_eq!(z.read("inbox/a.json", 10).unwrap(), b"{}");
        assert!(z.label("inbox/a.json").ends_with("export.zip:inbox/a.json"));
    }

    #[test]
    fn a_zip_bomb_is_refused_before_it_inflates() {
        let dir = scratch("bomb");
        let zip = dir.join("bomb.zip");
        let zeros = vec![0u8; 8 * 1024 * 1024];
        zip_of(&zip, &[("zeros.bin", &zeros)]);
        let e = Tree::open(&zip, &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("zip bomb"), "{e}");
    }

    #[test]
    fn a_file_past_its_bound_is_refused() {
        let dir = scratch("bound");
        std::fs::write(dir.join("big.json"), vec![b'x'; 1000]).unwrap();
        let mut t = Tree::open(&dir, &Limits::default()).unwrap();
        let e = t.read("big.json", 100).unwrap_err();
        assert!(e.to_string().contains("larger than 100 bytes"), "{e}");
        assert_eq!(t.read("big.json", 1000).unwrap().len(), 1000);
    }
}
