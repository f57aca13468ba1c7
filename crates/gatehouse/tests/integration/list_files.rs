//! Category lists loaded from files in every supported format — hosts, plain, AdBlock `||domain^`
//! and UT1/SquidGuard folders — decide requests end to end, parents included.

use policy::Tier;
use testkit::Edit;
use testkit::{base_config, curl, Gateway, Origin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_in_every_format_refuse_their_domains_and_parents_match() {
    let origin = Origin::start("127.0.0.3").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("hosts.txt"), "# a hosts file\n0.0.0.0 tracker.hosts.test\n127.0.0.1 localhost\n0.0.0.0 a.test b.hosts.test # two names\n").unwrap();
    std::fs::write(d.join("plain.txt"), "# plain\nplain.test\n*.wild.test\n").unwrap();
    std::fs::write(d.join("adblock.txt"), "[Adblock Plus 2.0]\n! comment\n||adblock.test^\n||ignored.test^$third-party\nexample.com##.ad\n").unwrap();
    std::fs::create_dir_all(d.join("ut1/gambling")).unwrap();
    std::fs::create_dir_all(d.join("ut1/education")).unwrap();
    std::fs::write(d.join("ut1/gambling/domains"), "casino.test\n").unwrap();
    std::fs::write(d.join("ut1/gambling/urls"), "casino.test/page\n").unwrap();
    std::fs::write(d.join("ut1/education/domains"), "school.test\n").unwrap();
    let names = [
        "tracker.hosts.test",
        "x.b.hosts.test",
        "plain.test",
        "deep.sub.plain.test",
        "wild.test",
        "adblock.test",
        "ignored.test",
        "casino.test",
        "www.casino.test",
        "school.test",
        "notplain.test",
    ];
    let hosts: Vec<String> = names
        .iter()
        .map(|n| format!("\"{n}\" = [\"{}\"]", origin.addr.ip()))
        .collect();
    let text = base_config(&origin)
        .edit("hosts = { ", &format!("hosts = {{ {}, ", hosts.join(", ")))
        .edit("deny = [\"ads\"]", "deny = [\"ads\", \"hostsfile\", \"plainfile\", \"adblockfile\", \"ut1/gambling\"]")
        .edit("allow = [\"research\"]", "allow = [\"research\", \"ut1/education\"]")
        + &format!(
            "\n[lists.hostsfile]\nformat = \"hosts\"\npath = \"{h}\"\n\n[lists.plainfile]\nformat = \"plain\"\npath = \"{p}\"\n\n[lists.adblockfile]\nformat = \"adblock\"\npath = \"{a}\"\n\n[lists.ut1]\nformat = \"ut1\"\npath = \"{u}\"\n",
            h = d.join("hosts.txt").display(),
            p = d.join("plain.txt").display(),
            a = d.join("adblock.txt").display(),
            u = d.join("ut1").display(),
        );
    let gw = Gateway::start(&text).await;
    gw.add_user("olive", Tier::Open, "pw").await;
    gw.add_user("fred", Tier::Filtered, "pw").await;
    let port = origin.port();
    let cases = [
        ("olive", "tracker.hosts.test", Some("global-deny:hostsfile")),
        ("olive", "x.b.hosts.test", Some("global-deny:hostsfile")),
        ("olive", "plain.test", Some("global-deny:plainfile")),
        (
            "olive",
            "deep.sub.plain.test",
            Some("global-deny:plainfile"),
        ),
        ("olive", "wild.test", Some("global-deny:plainfile")),
        ("olive", "adblock.test", Some("global-deny:adblockfile")),
        ("olive", "ignored.test", None),
        ("olive", "casino.test", Some("global-deny:ut1/gambling")),
        ("olive", "www.casino.test", Some("global-deny:ut1/gambling")),
        ("olive", "notplain.test", None),
        ("fred", "school.test", None),
        ("fred", "casino.test", Some("global-deny:ut1/gambling")),
        ("fred", "notplain.test", Some("filtered-default")),
    ];
    for (user, host, rule) in cases {
        let before = origin.requests();
        let out = curl(&[
            "-x",
            &gw.proxy_url(),
            "-U",
            &format!("{user}:pw"),
            &format!("http://{host}:{port}/"),
        ])
        .await;
        match rule {
            Some(rule) => {
                assert_eq!(out.status, 403, "{user} {host}: {}", out.text());
                assert_eq!(
                    out.header("x-gatehouse-rule").as_deref(),
                    Some(rule),
                    "{user} {host}"
                );
                assert_eq!(
                    origin.requests(),
                    before,
                    "{user} {host} reached the origin"
                );
            }
            None => {
                assert_eq!(out.status, 200, "{user} {host}: {}", out.text());
                assert_eq!(origin.requests(), before + 1);
            }
        }
    }

    // `check-config` on the same file says what each list loaded and what it skipped, per reason,
    // with the lines: the hosts file's `localhost`, the AdBlock rule with options and the
    // cosmetic rule. UT1 files other than `domains` are not lists and are not mentioned.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("check-config")
        .arg(gw.config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lists: Vec<&str> = stdout.lines().skip(1).map(str::trim).collect();
    let path = |name: &str| d.join(name).display().to_string();
    assert_eq!(
        lists,
        [
            format!("list `adblockfile`: 1 domain from `{}`, 2 entries skipped: 2 AdBlock rules other than `||domain^` (lines 4, 5)", path("adblock.txt")),
            format!("list `hostsfile`: 3 domains from `{}`, 1 entry skipped: 1 local name (line 3)", path("hosts.txt")),
            format!("list `plainfile`: 2 domains from `{}`", path("plain.txt")),
            format!("list `ut1/education`: 1 domain from `{}`", path("ut1")),
            format!("list `ut1/gambling`: 1 domain from `{}`", path("ut1")),
        ],
        "{stdout}"
    );
    gw.shutdown().await;
}
