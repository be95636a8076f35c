//! The confirmation prompt: `CI` set means gw never prompts, even when stdin is a terminal
//! on which someone (or something) would answer `yes`.

use crate::support::azure::Azure;
use crate::support::cli::example;
use std::io::Write;

/// A pseudo-terminal with `yes` already typed on it: (what gw gets as stdin, the master end
/// that must stay open while gw reads).
fn terminal_with_yes_typed() -> (std::fs::File, std::fs::File) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("open a pseudo-terminal");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("a UTF-8 pts path"))
        .expect("open the terminal's slave end");
    let mut master = std::fs::File::from(master);
    // The terminal's line discipline holds the line until gw reads it.
    master.write_all(b"yes\n").expect("type yes");
    (slave, master)
}

#[test]
fn with_ci_set_apply_refuses_even_when_a_terminal_answers_yes() {
    use std::io::IsTerminal;
    let az = Azure::new();
    let (tty, _master) = terminal_with_yes_typed();
    assert!(tty.is_terminal(), "the test really hands gw a terminal");
    // `Azure::gw` sets CI=true, as a CI runner does.
    let run = az
        .gw()
        .args(["apply", "-f"])
        .args([example("session-affinity")])
        .stdin(tty)
        .run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("CI is set"), "{}", run.stderr);
    assert!(
        run.stderr.contains("gw apply --auto-approve"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("Only 'yes'"),
        "no prompt: {}",
        run.stderr
    );
    assert!(az.writes().is_empty(), "{:?}", az.writes());

    // The same terminal without CI: gw asks, reads the `yes`, and applies. This is what the
    // first run would do if gw ignored CI.
    let (tty, _master) = terminal_with_yes_typed();
    let run = az
        .gw()
        .env_remove("CI")
        .args(["apply", "-f"])
        .args([example("session-affinity")])
        .stdin(tty)
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Only 'yes'"), "{}", run.stderr);
    assert!(!az.writes().is_empty());
}
