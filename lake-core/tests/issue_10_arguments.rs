//! Regression tests for the argument situations of issue 10, "Memoization
//! you can trust": each one gave a false cache hit (two different arguments,
//! one key) or a false miss (one argument, a new key in every process) with
//! the bincode-style encoding.
//!
//! Each test plays the two builds of a program the way a user met them: a
//! type as it was, and the same type after an edit, side by side under two
//! module names. Serde names the type the same in both builds, so the bytes
//! differ only through what the edit changed.
//!
//! See: issue 10.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::process::Command;

use lake_core::Digest;
use lake_core::key::{CodeIdentity, KeyParams, RunKey, canonical_bytes};
use serde::Serialize;

/// The key a creator `demo::step` gets for the single argument `arg`.
fn key<T: Serialize + ?Sized>(arg: &T) -> RunKey {
    KeyParams::new("demo::step", CodeIdentity::Version("1".into()))
        .with_arg("arg", &canonical_bytes(arg).unwrap())
        .compute()
}

/// A `HashSet` whose iteration order differs from one built in the other
/// direction: each set gets its own random hasher, and 64 elements leave
/// next to no chance of two equal orders.
fn set_of(n: u32, reversed: bool) -> HashSet<String> {
    let items = (0..n).map(|i| format!("item-{i}"));
    if reversed {
        items.rev().collect()
    } else {
        items.collect()
    }
}

#[test]
fn reordered_struct_fields_do_not_share_a_key() {
    mod before {
        #[derive(serde::Serialize)]
        pub struct Window {
            pub width: u32,
            pub height: u32,
        }
    }
    mod after {
        // The fields swapped: the old bytes of `Window { width: 3, height: 4 }`
        // were the new bytes of `Window { height: 3, width: 4 }`.
        #[derive(serde::Serialize)]
        pub struct Window {
            pub height: u32,
            pub width: u32,
        }
    }
    let old = key(&before::Window {
        width: 3,
        height: 4,
    });
    let new = key(&after::Window {
        height: 3,
        width: 4,
    });
    assert_ne!(old, new);
}

#[test]
fn reordered_enum_variants_do_not_share_a_key() {
    mod before {
        #[derive(serde::Serialize)]
        pub enum Method {
            Mean,
            Median,
        }
    }
    mod after {
        #[derive(serde::Serialize)]
        pub enum Method {
            Median,
            Mean,
        }
    }
    // Variant 0 was `Mean`; after the edit it is `Median`.
    assert_ne!(key(&before::Method::Mean), key(&after::Method::Median));
    assert_ne!(key(&before::Method::Median), key(&after::Method::Mean));
}

#[test]
fn skip_serializing_if_fields_do_not_share_a_key() {
    #[derive(Serialize)]
    struct Opts {
        #[serde(skip_serializing_if = "Option::is_none")]
        low: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        high: Option<u32>,
    }
    let low = Opts {
        low: Some(1),
        high: None,
    };
    let high = Opts {
        low: None,
        high: Some(1),
    };
    assert_ne!(key(&low), key(&high));
}

#[test]
fn untagged_enum_variants_do_not_share_a_key() {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Scale {
        Fixed(u64),
        Factor(f64),
    }
    // Both were eight zero bytes.
    assert_ne!(key(&Scale::Fixed(0)), key(&Scale::Factor(0.0)));
    // Integer widths and signs are tagged too.
    assert_ne!(key(&0u32), key(&0i32));
    assert_ne!(key(&0u32), key(&0u64));
}

#[test]
fn indexmap_order_is_kept() {
    use indexmap::{IndexMap, IndexSet};
    // A pipeline of steps: the order is the meaning.
    let forward: IndexMap<&str, u8> = [("normalize", 1), ("clip", 2)].into_iter().collect();
    let backward: IndexMap<&str, u8> = [("clip", 2), ("normalize", 1)].into_iter().collect();
    assert_ne!(key(&forward), key(&backward));
    let forward: IndexSet<&str> = ["a", "b"].into_iter().collect();
    let backward: IndexSet<&str> = ["b", "a"].into_iter().collect();
    assert_ne!(key(&forward), key(&backward));
    // An IndexMap inside a struct is found by its type as well.
    #[derive(Serialize)]
    struct Plan {
        steps: IndexMap<String, u8>,
    }
    let plan = |names: [&str; 2]| Plan {
        steps: names.iter().map(|n| (n.to_string(), 0)).collect(),
    };
    assert_ne!(key(&plan(["a", "b"])), key(&plan(["b", "a"])));
}

#[test]
fn hashmaps_and_hashsets_are_sorted_where_they_appear() {
    type Tags = HashSet<String>;
    #[derive(Serialize)]
    struct Filter<'a> {
        tags: Tags,
        by_group: HashMap<String, HashSet<String>>,
        pair: (u8, HashSet<String>),
        borrowed: &'a HashSet<String>,
    }
    let (forward, backward) = (set_of(64, false), set_of(64, true));
    let filter = |rev: bool| Filter {
        tags: set_of(64, rev),
        by_group: [("g".to_string(), set_of(64, !rev))].into(),
        pair: (1, set_of(64, rev)),
        borrowed: if rev { &backward } else { &forward },
    };
    assert_eq!(key(&filter(false)), key(&filter(true)));
    // At the top level, in arrays, behind references and options, as a map
    // key, and in a Vec.
    assert_eq!(key(&set_of(64, false)), key(&set_of(64, true)));
    assert_eq!(
        key(&[set_of(64, false), set_of(8, true)]),
        key(&[set_of(64, true), set_of(8, false)])
    );
    assert_eq!(key(&&set_of(64, false)), key(&&set_of(64, true)));
    assert_eq!(key(&Some(set_of(64, false))), key(&Some(set_of(64, true))));
    let by_set = |rev: bool| -> Vec<(BTreeSet<u8>, Vec<HashSet<String>>)> {
        vec![(BTreeSet::from([1, 2]), vec![set_of(32, rev)])]
    };
    assert_eq!(key(&by_set(false)), key(&by_set(true)));
    #[derive(Serialize)]
    struct Tagged(Tags);
    let mut as_keys_a: HashMap<Vec<String>, Tagged> = HashMap::new();
    let mut as_keys_b: HashMap<Vec<String>, Tagged> = HashMap::new();
    for i in 0..16 {
        as_keys_a.insert(vec![format!("{i}")], Tagged(set_of(i, false)));
    }
    for i in (0..16).rev() {
        as_keys_b.insert(vec![format!("{i}")], Tagged(set_of(i, true)));
    }
    assert_eq!(key(&as_keys_a), key(&as_keys_b));
    // Sorting does not merge different sets.
    assert_ne!(key(&set_of(64, false)), key(&set_of(63, false)));
}

#[test]
fn a_set_as_a_map_key_is_sorted() {
    struct SetKeyed(Vec<(HashSet<String>, u8)>);
    impl Serialize for SetKeyed {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            // `HashSet` is not `Hash`, so a map keyed by sets is written by
            // hand; the encoder still sees each key's type.
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }
    let a = SetKeyed(vec![(set_of(64, false), 1)]);
    let b = SetKeyed(vec![(set_of(64, true), 1)]);
    assert_eq!(canonical_bytes(&a).unwrap(), canonical_bytes(&b).unwrap());
}

/// The blake3 of the bytes of an argument full of `HashSet`s and
/// `HashMap`s. The cross-process test below runs this in child processes.
fn unordered_argument_digest() -> String {
    #[derive(Serialize)]
    struct Job {
        tags: [HashSet<String>; 2],
        weights: HashMap<String, HashSet<String>>,
    }
    let job = Job {
        tags: [set_of(64, false), set_of(32, false)],
        weights: (0..32)
            .map(|i| (format!("w{i}"), set_of(i, false)))
            .collect(),
    };
    Digest::of(&canonical_bytes(&job).unwrap()).to_string()
}

#[test]
fn hashsets_encode_identically_across_processes() {
    const CHILD: &str = "LAKE_TEST_CANONICAL_CHILD";
    if std::env::var_os(CHILD).is_some() {
        // Run as a child: report this process's bytes.
        println!("\ncanonical={}", unordered_argument_digest());
        return;
    }
    let ours = unordered_argument_digest();
    for _ in 0..2 {
        // The same test, in a new process with new random hash seeds.
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "hashsets_encode_identically_across_processes",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "child failed: {out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let theirs = stdout
            .lines()
            .find_map(|l| l.strip_prefix("canonical="))
            .unwrap_or_else(|| panic!("child printed no bytes: {stdout}"));
        assert_eq!(theirs, ours);
    }
}
