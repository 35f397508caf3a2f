//! Instruction counts: the stable measure on a shared machine.
//!
//! Wall-clock CPU swings ±10 % between runs here; the number of user-space instructions a
//! process executes for the same binary and the same work does not (`valgrind
//! --tool=callgrind` counts them, whatever the neighbours do). `perf stat -e instructions` is
//! not supported on this machine's virtual CPU, so callgrind it is.
//!
//! A bench asks for this mode with `TENAX_BENCH_INSTRUCTIONS=N`: it then runs each client in
//! a child process of itself under callgrind, once for `N` units and once for `2N`, against a
//! server in the parent (not counted), and reports `(I(2N) − I(N)) / N` — the instructions
//! of one unit of steady-state work, with the process start, the runtime, the client's
//! construction and the connections' set-up cancelled out. Only user space is counted: the
//! kernel's share (loopback TCP, copies) is in the time figures, not here.

use std::io;
use std::path::PathBuf;
use std::process::Command;

/// `TENAX_BENCH_INSTRUCTIONS=N`: the units of work of the smaller counted run.
pub fn requested() -> Option<u64> {
    std::env::var("TENAX_BENCH_INSTRUCTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
}

/// The user-space instructions `cmd` executes, all its threads together, under callgrind.
///
/// The command's stdout and stderr are returned beside the count for the caller to check.
pub fn count(cmd: &mut Command) -> io::Result<(u64, String)> {
    let out_file = scratch_file();
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut wrapped = Command::new("valgrind");
    wrapped
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg("--dump-line=no")
        .arg(program)
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    let output = wrapped.output()?;
    let text = std::fs::read_to_string(&out_file);
    let _ = std::fs::remove_file(&out_file);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{:?} under callgrind failed: {}\n{stdout}",
            cmd.get_program(),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let total =
        summary(&text?).ok_or_else(|| io::Error::other("callgrind wrote no summary line"))?;
    Ok((total, stdout))
}

/// Instructions per unit of steady-state work: `make(n)` and `make(2n)` counted, the
/// difference divided by `n`.
pub fn per_unit(n: u64, make: impl Fn(u64) -> Command) -> io::Result<f64> {
    let (small, _) = count(&mut make(n))?;
    let (large, _) = count(&mut make(2 * n))?;
    Ok(large.saturating_sub(small) as f64 / n as f64)
}

/// Whether valgrind can be run here.
pub fn available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The `summary:` (or `totals:`) line of a callgrind output file: instructions executed.
fn summary(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn scratch_file() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "tenax-bench-callgrind-{}-{}.out",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Formats an instruction count per unit for a table: `31,204`.
pub fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_is_read() {
        let text =
            "version: 1\ncreator: callgrind\nevents: Ir\nsummary: 123456\n\ntotals: 123456\n";
        assert_eq!(summary(text), Some(123_456));
        assert_eq!(summary("events: Ir\ntotals: 7\n"), Some(7));
        assert_eq!(summary("events: Ir\n"), None);
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(31_204.4), "31,204");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000_000.0), "1,000,000");
    }

    #[test]
    fn a_process_is_counted_when_valgrind_is_here() {
        if !available() {
            return;
        }
        let (n, out) = count(Command::new("echo").arg("hi")).unwrap();
        assert!(n > 10_000, "{n}");
        assert_eq!(out, "hi\n");
    }
}
