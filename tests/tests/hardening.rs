//! Nothing lost, nothing wrong served: regression tests for issue 17, each
//! driven through the `lake` binary as a user would.

use std::io::Write;
use std::process::{Command, Output};

use lake_tests::{TestDir, TestServer, example_bin, files_in_recursive};

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The blake3 hex of `name`, from `lake info --json`.
fn digest_of(cmd: &mut lake_tests::LakeCmd, name: &str) -> String {
    cmd.args(["info", name, "--json"]).json()["blake3"]
        .as_str()
        .expect("info --json has a blake3")
        .to_owned()
}

/// Gives back the write bit lake took from a local copy, as a user
/// tampering with it would.
fn make_writable(path: &std::path::Path) {
    let mut permissions = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(path, permissions).unwrap();
}

/// See issue 17, "two `add -r` processes on one home": a deferred `BEGIN`
/// that upgraded to a write lock skipped the busy timeout, and 8 runs in 20
/// failed with `database is locked`.
#[test]
fn issue_17_eight_processes_share_one_home_for_twenty_rounds() {
    let t = TestDir::new();
    for tree in 0..2 {
        for i in 0..30 {
            t.write(
                &format!("src{tree}/f{i}.txt"),
                format!("tree {tree} file {i}"),
            );
        }
    }
    let seeded = t
        .lake()
        .args(["add", "-r"])
        .arg(t.path().join("src0"))
        .arg("seed")
        .output();
    assert_success("seeding add -r", &seeded);
    let chain = example_bin("chain");
    for round in 0..20 {
        let children: Vec<(String, std::process::Child)> = (0..8)
            .map(|p| {
                let what = format!("round {round} process {p}");
                let child = match p % 4 {
                    0 => t
                        .lake()
                        .args(["add", "-r"])
                        .arg(t.path().join(format!("src{}", p % 2)))
                        .arg(format!("r{round}/p{p}"))
                        .spawn_piped(),
                    1 => t.lake().args(["ls", "-r", "--refresh"]).spawn_piped(),
                    2 => t.lake().args(["pull", "seed"]).spawn_piped(),
                    _ => Command::new(&chain)
                        .args(["run", "4"])
                        .current_dir(t.path())
                        .env("LAKE_HOME", t.home())
                        .env("LAKE_STORE", t.store_url())
                        .env_remove("RUST_LOG")
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .expect("start the chain example"),
                };
                (what, child)
            })
            .collect();
        for (what, child) in children {
            let out = child.wait_with_output().expect("wait for a process");
            assert_success(&what, &out);
        }
    }
    let listed = t.lake().args(["ls", "-r", "r19"]).ok();
    assert_eq!(
        listed.lines().filter(|l| l.contains(".txt")).count(),
        2 * 30
    );
}

/// See issue 17, "a garbage `index.sqlite`": every command failed with
/// "file is not a database", printed three times, though the index is only
/// a cache of the store.
#[test]
fn issue_17_a_garbage_index_is_rebuilt_with_one_notice() {
    let t = TestDir::new();
    let src = t.write("a.txt", b"hello");
    t.lake().args(["add"]).arg(&src).arg("docs/a.txt").ok();
    let indexes: Vec<_> = files_in_recursive(&t.home())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "index.sqlite"))
        .collect();
    assert!(!indexes.is_empty(), "no index.sqlite under the home");
    for index in &indexes {
        std::fs::write(index, b"this is not a database, just garbage bytes").unwrap();
    }
    let out = t.lake().args(["ls", "-r"]).output();
    assert_success("ls over a garbage index", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("docs/a.txt"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("rebuilding it from the store").count(),
        1,
        "one notice: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // And the next command says nothing more.
    let again = t.lake().args(["cat", "docs/a.txt"]).output();
    assert_success("cat after the rebuild", &again);
    assert_eq!(again.stdout, b"hello");
    assert!(
        again.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// See issue 17, "`add --move` of a symlink": the link itself was
/// hard-linked and its target made read-only, so the name's content became
/// whatever the target held later.
#[test]
fn issue_17_move_of_a_symlink_copies_the_target_and_removes_only_the_link() {
    let t = TestDir::new();
    let target = t.write("target.txt", b"original text\n");
    let link = t.path().join("link.txt");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    t.lake()
        .args(["add", "--move"])
        .arg(&link)
        .arg("docs/linked.txt")
        .ok();
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "the link is moved away"
    );
    // The target is untouched: still there, still writable.
    assert!(!std::fs::metadata(&target).unwrap().permissions().readonly());
    std::fs::write(&target, b"edited later\n").unwrap();
    assert_eq!(
        t.lake().args(["cat", "docs/linked.txt"]).ok(),
        "original text\n"
    );
    let verify = t.lake().args(["verify", "--store"]).output();
    assert_success("verify --store", &verify);
}

/// See issue 17, "a failed `--move`": the installed blob kept sharing the
/// source's inode, so appending to the source changed the cached bytes, and
/// a later add uploaded 38 bytes recorded as 17.
#[test]
fn issue_17_a_failed_move_leaves_the_source_as_it_was_and_shares_no_inode() {
    let t = TestDir::new();
    let src = t.write("data.txt", b"seventeen bytes!\n");
    let before = std::fs::metadata(&src).unwrap();
    // An unreachable store: the commit fails after staging.
    let err = t
        .lake()
        .env("LAKE_STORE", "http://127.0.0.1:9/store")
        .env("LAKE_STORE_OPT_MAX_RETRIES", "0")
        .args(["add", "--move"])
        .arg(&src)
        .arg("d.txt")
        .fails();
    assert!(!err.is_empty());
    let after = std::fs::metadata(&src).expect("the source is still there");
    assert_eq!(after.permissions(), before.permissions());
    assert_eq!(
        std::os::unix::fs::MetadataExt::nlink(&after),
        1,
        "no link was left"
    );
    // The user appends; an add of the original bytes stays consistent.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&src)
        .unwrap()
        .write_all(b"appended by the user\n")
        .unwrap();
    let original = t.write("original.txt", b"seventeen bytes!\n");
    t.lake().args(["add"]).arg(&original).arg("d.txt").ok();
    assert_eq!(t.lake().args(["cat", "d.txt"]).ok(), "seventeen bytes!\n");
    let verify = t.lake().args(["verify", "--store"]).output();
    assert_success("verify --store", &verify);
}

/// See issue 17, "`add --move` of a file still open for writing": a writer
/// that kept appending changed the committed name's content.
#[test]
fn issue_17_a_writer_still_appending_after_a_move_changes_nothing_committed() {
    let t = TestDir::new();
    // Large enough that no small-file shortcut applies.
    let body = vec![b'x'; 3 << 20];
    let src = t.write("big.bin", &body);
    let mut writer = std::fs::OpenOptions::new().append(true).open(&src).unwrap();
    t.lake()
        .args(["add", "--move"])
        .arg(&src)
        .arg("big.bin")
        .ok();
    assert!(!src.exists());
    writer.write_all(b"late bytes from a writer").unwrap();
    writer.sync_all().unwrap();
    drop(writer);
    let info = t.lake().args(["info", "big.bin", "--json"]).json();
    assert_eq!(info["size"], body.len());
    let verify = t.lake().args(["verify", "--store"]).output();
    assert_success("verify --store", &verify);
    let cat = t.lake().args(["cat", "big.bin"]).ok_bytes();
    assert_eq!(cat.len(), body.len());
}

/// See issue 17, "sources": `lake add fifo n` hung forever, and
/// `lake add /dev/zero n` grew memory by about 1.4 GB/s.
#[test]
fn issue_17_fifos_and_devices_are_refused_naming_their_kind() {
    let t = TestDir::new();
    let fifo = t.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let err = t.lake().args(["add"]).arg(&fifo).arg("p").fails();
    assert!(err.contains("named pipe (FIFO)"), "{err}");
    assert!(err.contains("pipe"), "names the path: {err}");
    let err = t.lake().args(["add", "/dev/zero", "z"]).fails();
    assert!(
        err.contains("/dev/zero") && err.contains("character device"),
        "{err}"
    );
}

/// See issue 17, "local copies are served unchecked": a truncated local
/// copy, an edited one, or one replaced by a symlink to `/etc/hostname`
/// came out of `cat`, `get` and `local-path` with exit 0.
#[test]
fn issue_17_damaged_local_copies_are_never_served() {
    let t = TestDir::new();
    // A home on another filesystem than the store, so the two copies are
    // separate files (on one filesystem they are one inode, and damage to
    // one is damage to both: see the next test).
    let shm = tempfile::Builder::new()
        .prefix("lake-test-home-")
        .tempdir_in("/dev/shm")
        .expect("a tmpfs at /dev/shm");
    let home = shm.path().join("home");
    let lake = || t.lake_with_home(&home);
    let text = "the right bytes, as committed\n";
    let src = t.write("a.txt", text);
    lake().args(["add"]).arg(&src).arg("a.txt").ok();
    let blob = home.join("blobs").join(digest_of(&mut lake(), "a.txt"));
    type Damage<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let damages: Vec<Damage> = vec![
        (
            "truncated",
            Box::new(|| {
                make_writable(&blob);
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&blob)
                    .unwrap()
                    .set_len(5)
                    .unwrap();
            }),
        ),
        (
            "appended to",
            Box::new(|| {
                make_writable(&blob);
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&blob)
                    .unwrap()
                    .write_all(b"EVIL")
                    .unwrap();
            }),
        ),
        (
            "a symlink",
            Box::new(|| {
                std::fs::remove_file(&blob).unwrap();
                std::os::unix::fs::symlink("/etc/hostname", &blob).unwrap();
            }),
        ),
        (
            "a directory",
            Box::new(|| {
                std::fs::remove_file(&blob).unwrap();
                std::fs::create_dir(&blob).unwrap();
            }),
        ),
    ];
    for (what, damage) in &damages {
        damage();
        assert_eq!(
            lake().args(["cat", "a.txt"]).ok(),
            text,
            "cat of a copy {what}"
        );
        let meta = std::fs::symlink_metadata(&blob).unwrap();
        assert!(
            meta.is_file() && meta.len() == text.len() as u64,
            "{what}: repaired"
        );
    }
    for (what, damage) in &damages {
        damage();
        let path = lake().args(["local-path", "a.txt"]).ok();
        assert_eq!(
            std::fs::read_to_string(path.trim()).unwrap(),
            text,
            "local-path of a copy {what}"
        );
        damage();
        let out = t.path().join(format!("got-{}.txt", what.replace(' ', "-")));
        lake().args(["get", "a.txt", "-o"]).arg(&out).ok();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            text,
            "get of a copy {what}"
        );
    }
}

/// With the default store, the local copy and the store blob are one inode
/// (docs/design: hard links), so damage to it cannot be repaired from the
/// store: `cat` must fail loudly rather than print the damaged bytes.
#[test]
fn issue_17_damage_shared_with_a_local_store_fails_loudly() {
    let t = TestDir::new();
    let src = t.write("a.txt", "the right bytes\n");
    t.lake().args(["add"]).arg(&src).arg("a.txt").ok();
    let blob = t.home_blob(&digest_of(&mut t.lake(), "a.txt"));
    make_writable(&blob);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&blob)
        .unwrap()
        .set_len(3)
        .unwrap();
    let out = t.lake().args(["cat", "a.txt"]).output();
    assert!(
        !out.status.success(),
        "served damaged bytes: {:?}",
        out.stdout
    );
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corrupt"), "{stderr}");
}

/// See issue 17, "sources": non-UTF-8 file names `x\xff` and `x\xfe` both
/// became `x�`; one was committed, then the run failed.
#[test]
fn issue_17_non_utf8_names_are_refused_before_anything_is_added() {
    use std::os::unix::ffi::OsStrExt;
    let t = TestDir::new();
    t.write("tree/ok.txt", b"fine");
    for byte in [0xffu8, 0xfe] {
        let bytes = [b'x', byte];
        let name = std::ffi::OsStr::from_bytes(&bytes);
        std::fs::write(t.path().join("tree").join(name), [byte]).unwrap();
    }
    let err = t
        .lake()
        .args(["add", "-r"])
        .arg(t.path().join("tree"))
        .arg("t")
        .fails();
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(
        err.contains(r"x\xFF") || err.contains(r"x\xFE"),
        "escaped: {err}"
    );
    assert!(
        t.store_files().is_empty(),
        "nothing added: {:?}",
        t.store_files()
    );
}

/// See issue 17, "sources": a symlink loop aborted a whole `add -r`.
#[test]
fn issue_17_symlink_loops_are_reported_and_skipped() {
    let t = TestDir::new();
    t.write("tree/a.txt", b"a");
    t.write("tree/b.txt", b"b");
    let tree = t.path().join("tree");
    std::os::unix::fs::symlink(tree.join("loop1"), tree.join("loop2")).unwrap();
    std::os::unix::fs::symlink(tree.join("loop2"), tree.join("loop1")).unwrap();
    let out = t.lake().args(["add", "-r"]).arg(&tree).arg("t").output();
    assert_success("add -r with a symlink loop", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped 2 entries"), "{stderr}");
    assert!(stderr.contains("symlink loop"), "{stderr}");
    let listed = t.lake().args(["ls", "-r", "t"]).ok();
    assert!(
        listed.contains("t/a.txt") && listed.contains("t/b.txt"),
        "{listed}"
    );
}

/// See issue 17, "sources": `lake add -r .` in a project whose home is
/// `.lake` (the README's own example) added the index, its WAL, the locks
/// and the store itself.
#[test]
fn issue_17_add_r_of_the_project_leaves_out_the_home_and_the_store() {
    let t = TestDir::new();
    let project = t.path().join("project");
    std::fs::create_dir_all(project.join("data")).unwrap();
    std::fs::write(project.join("data/x.csv"), b"1,2\n").unwrap();
    std::fs::write(project.join("lake.toml"), "home = \".lake\"\n").unwrap();
    // A store elsewhere in the project, named as the user likes.
    std::fs::write(
        project.join("lake.toml"),
        "home = \".lake\"\nstore = \"shared-store\"\n",
    )
    .unwrap();
    let lake = || {
        let mut cmd = t.lake_bare();
        cmd.current_dir(&project);
        cmd
    };
    // Twice, so that the second walk meets a populated home and store.
    lake().args(["add", "-r", ".", "proj"]).ok();
    lake().args(["add", "-r", ".", "proj2"]).ok();
    let listed = lake().args(["ls", "-r"]).ok();
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains(&"proj2/data/x.csv"), "{listed}");
    assert!(names.contains(&"proj2/lake.toml"), "{listed}");
    for name in &names {
        assert!(
            !name.contains(".lake") && !name.contains("shared-store"),
            "lake's own files were added: {name}\n{listed}"
        );
    }
}

/// See issue 17, "one undecodable name record": it broke `ls`, `verify
/// --store` and `gc` in every fresh home, with an error naming neither the
/// record nor the key.
#[test]
fn issue_17_an_undecodable_record_is_skipped_named_and_reported() {
    let t = TestDir::new();
    let src = t.write("a.txt", b"good");
    t.lake().args(["add"]).arg(&src).arg("good.txt").ok();
    std::fs::write(t.store_dir().join("names/bad.json"), b"{ not a record").unwrap();
    let fresh = t.path().join("fresh-home");
    let out = t.lake_with_home(&fresh).args(["ls", "-r"]).output();
    assert_success("ls with a bad record", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("good.txt"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("names/bad.json"),
        "names the object: {stderr}"
    );

    let verify = t
        .lake_with_home(&fresh)
        .args(["verify", "--store"])
        .output();
    assert!(!verify.status.success(), "verify must report it");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(text.contains("names/bad.json"), "{text}");

    let gc = t.lake_with_home(&fresh).args(["gc"]).fails();
    assert!(
        gc.contains("\"bad\"") && gc.contains("removes nothing"),
        "{gc}"
    );
    assert!(
        t.store_files()
            .iter()
            .any(|p| p.to_string_lossy().contains("/blobs/")),
        "gc kept the blobs"
    );
}

/// See issue 17, "messages": causes were printed twice (`No space left on
/// device (os error 28): No space left on device (os error 28)`).
#[test]
fn issue_17_an_error_prints_each_cause_once_on_one_line() {
    let t = TestDir::new();
    let not_a_dir = t.write("plain-file", b"x");
    let src = t.write("a.txt", b"a");
    let err = t
        .lake()
        .env("LAKE_HOME", not_a_dir.join("home"))
        .args(["add"])
        .arg(&src)
        .arg("a.txt")
        .fails();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(err.matches("os error 20").count(), 1, "{err}");
}

/// See issue 17, "messages": `verify` counted problems, not files, and
/// `lake get` wrote files with mode 0600 whatever the umask.
#[test]
fn issue_17_verify_counts_files_and_get_honours_the_umask() {
    let t = TestDir::new();
    let src = t.write("a.txt", b"the bytes");
    t.lake().args(["add"]).arg(&src).arg("a.txt").ok();
    let out = t.path().join("copy.txt");
    t.lake().args(["get", "a.txt", "-o"]).arg(&out).ok();
    let umask = Command::new("sh").args(["-c", "umask"]).output().unwrap();
    let umask = u32::from_str_radix(String::from_utf8_lossy(&umask.stdout).trim(), 8).unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions());
    assert_eq!(
        mode & 0o777,
        0o666 & !umask,
        "mode {mode:o} with umask {umask:o}"
    );

    // With the default store the local copy and the store blob are one
    // inode: damage is two problems of one file.
    let blob = t.home_blob(&digest_of(&mut t.lake(), "a.txt"));
    make_writable(&blob);
    std::fs::write(&blob, b"the BYTES").unwrap();
    let verify = t.lake().args(["verify", "--store"]).output();
    assert!(!verify.status.success());
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(
        stdout.contains("verified 1 file(s): 0 ok, 1 with problems (2 problem(s))"),
        "{stdout}"
    );
}

/// See issue 17, "messages": a missing bucket read as `blobs/<hex> not
/// found`, as if a name were missing.
#[test]
fn issue_17_a_missing_bucket_is_named_as_a_missing_bucket() {
    for kind in ["MOTO", "AZURITE"] {
        let Some(server) = TestServer::from_env(kind) else {
            continue;
        };
        let t = TestDir::new();
        let scheme = server.url.split("://").next().unwrap();
        let missing = format!("{scheme}://no-such-bucket-{}", std::process::id());
        let mut cmd = t.lake();
        server.apply(&mut cmd, &missing);
        let err = cmd
            .env("LAKE_STORE_OPT_MAX_RETRIES", "0")
            .args(["ls"])
            .fails();
        assert!(
            err.contains("bucket or container of this store does not exist"),
            "{kind}: {err}"
        );
        assert!(err.contains(&missing), "{kind}: names the store: {err}");
    }
}
