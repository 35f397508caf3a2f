//! Where `tenax get` writes a response: stdout, `-o FILE`, `-o DIR/` or an existing directory
//! (under the URL's file name), `-O` (the URL's file name), `--output-dir DIR`; `-i`/`-I` put
//! the status line and headers first. Binary bodies are not written to a terminal unless
//! `-o -` asks for it, as curl refuses them.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::report::exit;

/// The output flags of `tenax get`.
#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// Write the body to FILE instead of stdout ('-': stdout, binary or not; a directory or
    /// a path ending in '/': the URL's file name in it)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write the body to a file named as the URL's last path segment
    #[arg(short = 'O', long = "remote-name", conflicts_with = "output")]
    remote_name: bool,
    /// The directory -o and -O write in
    #[arg(long = "output-dir", value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Write the status line and headers before the body
    #[arg(short = 'i', long = "include")]
    pub include: bool,
    /// Send HEAD and write the status line and headers only
    #[arg(short = 'I', long = "head")]
    pub head: bool,
}

/// Where the body goes, opened.
pub struct Sink {
    out: Box<dyn Write>,
    /// A terminal that has not been written to yet: the first chunk is checked for binary.
    check_binary: bool,
}

/// A failure to write: the message and curl's exit code.
pub type Failure = (u8, String);

impl OutputArgs {
    /// Opens the destination for a response from `url`.
    pub fn open(&self, url: &str) -> Result<Sink, Failure> {
        let path = match (&self.output, self.remote_name) {
            (Some(p), _) if p == Path::new("-") => return Ok(Sink::stdout(false)),
            (Some(p), _) => Some(self.in_dir(self.dir_target(p, url)?)),
            (None, true) => Some(self.in_dir(PathBuf::from(file_name(url)?))),
            (None, false) => None,
        };
        let Some(path) = path else {
            let terminal = std::io::stdout().is_terminal();
            return Ok(Sink::stdout(terminal));
        };
        let file = std::fs::File::create(&path).map_err(|e| {
            (
                exit::WRITE_OUTPUT,
                format!("creating {}: {e}", path.display()),
            )
        })?;
        Ok(Sink {
            out: Box::new(std::io::BufWriter::new(file)),
            check_binary: false,
        })
    }

    /// `-o DIR/` or an existing directory: the URL's file name in it.
    fn dir_target(&self, p: &Path, url: &str) -> Result<PathBuf, Failure> {
        let dir_like = p.as_os_str().to_string_lossy().ends_with('/') || p.is_dir();
        if dir_like {
            Ok(p.join(file_name(url)?))
        } else {
            Ok(p.to_path_buf())
        }
    }

    fn in_dir(&self, p: PathBuf) -> PathBuf {
        match &self.output_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        }
    }
}

/// The URL's last path segment, as curl's `-O` names files.
pub fn file_name(url: &str) -> Result<String, Failure> {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let name = path
        .split_once('/')
        .map_or("", |(_, p)| p)
        .rsplit('/')
        .next()
        .unwrap_or("");
    if name.is_empty() || name == "." || name == ".." {
        return Err((
            exit::WRITE_OUTPUT,
            format!("the URL {url} has no file name to save under (use -o FILE)"),
        ));
    }
    Ok(name.to_owned())
}

impl Sink {
    fn stdout(terminal: bool) -> Sink {
        Sink {
            out: Box::new(std::io::stdout().lock()),
            check_binary: terminal,
        }
    }

    /// The status line and headers, as `-i` shows them: those of every response received
    /// before this one (redirects, retried answers), then this one's.
    pub fn head(&mut self, res: &tenax::Response) -> Result<(), Failure> {
        let mut earlier = crate::verbose::kept_heads();
        earlier.pop();
        for head in earlier {
            self.out.write_all(head.as_bytes()).map_err(written)?;
        }
        let head = crate::verbose::head_text(res.version(), res.status(), res.headers());
        self.out.write_all(head.as_bytes()).map_err(written)
    }

    /// A chunk of the body; on a terminal, a first chunk with a NUL byte is refused as curl
    /// refuses binary output there.
    pub fn chunk(&mut self, chunk: &[u8]) -> Result<(), Failure> {
        if self.check_binary {
            self.check_binary = false;
            if chunk.contains(&0) {
                return Err((
                    exit::WRITE_OUTPUT,
                    "binary output can mess up your terminal: use \"--output -\" to write it \
                     there anyway, or \"--output FILE\" to save it"
                        .into(),
                ));
            }
        }
        self.out.write_all(chunk).map_err(written)
    }

    pub fn flush(&mut self) -> Result<(), Failure> {
        self.out.flush().map_err(written)
    }
}

fn written(e: std::io::Error) -> Failure {
    (exit::WRITE_OUTPUT, format!("writing the body: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_are_the_last_path_segment() {
        assert_eq!(file_name("http://h:1/a/b.tar.gz?x=1").unwrap(), "b.tar.gz");
        assert_eq!(file_name("http://h/file#frag").unwrap(), "file");
        for none in ["http://h", "http://h/", "http://h/a/", "http://h/..", "h"] {
            assert!(file_name(none).is_err(), "{none}");
        }
    }
}
