//! `genlist`: writes a large, realistic, deterministic domain list for load tests.
//!
//! Usage: `genlist --count 1000000 --format hosts|plain|adblock|ut1 --out PATH [--seed N]
//! [--categories 20]`. For `ut1`, PATH is a folder that receives one subfolder per category,
//! each with a `domains` file. The same arguments always produce the same bytes.

// A command-line tool reads its arguments: the workspace bans `std::env::args` to keep the pure
// crates free of ambient input, which does not apply to this binary.
#![allow(clippy::disallowed_methods)]

use genlist::{generate, Generator, Options, OutFormat, DEFAULT_SEED};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: genlist --count N --format hosts|plain|adblock|ut1 --out PATH [--seed N] [--categories N]";

fn parse_args(args: &[String]) -> Result<(Options, PathBuf), String> {
    let mut count: Option<u64> = None;
    let mut format: Option<OutFormat> = None;
    let mut out: Option<PathBuf> = None;
    let mut seed = DEFAULT_SEED;
    let mut categories = 20usize;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_owned());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("missing value after `{flag}`"))?;
        let number = || {
            value
                .replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("invalid number `{value}` for `{flag}`"))
        };
        match flag.as_str() {
            "--count" => count = Some(number()?),
            "--format" => {
                format = Some(OutFormat::parse(value).ok_or_else(|| {
                    format!(
                        "unknown format `{value}`: expected `hosts`, `plain`, `adblock` or `ut1`"
                    )
                })?)
            }
            "--out" => out = Some(PathBuf::from(value)),
            "--seed" => seed = number()?,
            "--categories" => {
                categories = usize::try_from(number()?)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| format!("invalid number `{value}` for `{flag}`"))?
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let count = count.ok_or("missing `--count`")?;
    let format = format.ok_or("missing `--format`")?;
    let out = out.ok_or("missing `--out`")?;
    Ok((
        Options {
            count,
            format,
            seed,
            categories,
        },
        out,
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, out) = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(msg) => {
            eprintln!("genlist: {msg}");
            if msg != USAGE {
                eprintln!("{USAGE}");
            }
            return ExitCode::from(2);
        }
    };
    let mut gen = Generator::with_system_lists(opts.seed);
    match generate(&mut gen, &opts, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("genlist: cannot write `{}`: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn arguments() {
        let (o, p) = parse_args(&args(
            "--count 1_000 --format ut1 --out /tmp/x --seed 5 --categories 3",
        ))
        .unwrap();
        assert_eq!(
            (o.count, o.format, o.seed, o.categories),
            (1000, OutFormat::Ut1, 5, 3)
        );
        assert_eq!(p, PathBuf::from("/tmp/x"));
        let (o, _) = parse_args(&args("--format plain --out f --count 2")).unwrap();
        assert_eq!((o.seed, o.categories), (DEFAULT_SEED, 20));
        assert_eq!(
            parse_args(&args("--format plain --out f")).unwrap_err(),
            "missing `--count`"
        );
        assert!(parse_args(&args("--count x --format plain --out f")).is_err());
        assert!(parse_args(&args("--count 1 --format csv --out f")).is_err());
        assert!(parse_args(&args("--count 1 --format plain --out f --bogus 1")).is_err());
        assert!(parse_args(&args("--count")).is_err());
    }
}
