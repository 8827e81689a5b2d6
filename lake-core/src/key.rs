//! Run keys: what identifies one call of a creator, and the names of its
//! outputs.
//!
//! A run's key is blake3 over a versioned, length-prefixed preimage (see
//! [`KeyParams::preimage`]) of:
//! - [`KEY_VERSION`];
//! - the creator's path (`module_path!()` + `::` + name);
//! - its [`CodeIdentity`]: the hash of its tokens, or the version the user
//!   gave;
//! - each argument, by parameter name in declaration order, as canonical
//!   bytes ([`canonical_bytes`]);
//! - each input file, by parameter name in declaration order, as its blake3
//!   digest. The input's *name* is not part of the key: inputs count by
//!   content, so the same bytes under a new name give the same key
//!   (`docs/design/0002-keys.md`).
//!
//! # Example
//! ```
//! use lake_core::{Digest, Name};
//! use lake_core::key::{canonical_bytes, output_name, CodeIdentity, KeyParams};
//!
//! let raw: Name = "raw/data.csv".parse()?;
//! let key = KeyParams::new("my_crate::clean", CodeIdentity::Version("2".into()))
//!     .with_arg("columns", &canonical_bytes(&vec!["a", "b"])?)
//!     .with_input("raw", &raw, &Digest::of(b"a,b\n1,2\n"))
//!     .compute();
//! let out = output_name("clean", &key, None)?;
//! assert_eq!(out.as_str(), format!("clean/{}", key.short()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::Digest;
use crate::error::NameError;
use crate::name::Name;
use crate::record::InputRef;

pub use crate::canonical::{canonical_bytes, encode_arg};

/// Version of the key preimage layout; bump when inputs change.
///
/// Bumping it changes every key, so every creator runs again once. Bump it
/// whenever the preimage or the canonical encoding changes meaning.
///
/// - 1: bincode-style canonical arguments.
/// - 2: self-describing canonical arguments, unordered collections sorted
///   wherever they appear (issue 10).
pub const KEY_VERSION: u32 = 2;

/// Number of hex characters of the key in output names.
///
/// 16 hex characters are 64 bits: a collision between two runs of one
/// creator stays negligible below billions of runs.
pub const SHORT_KEY_LEN: usize = 16;

/// Width of the index in output names when the number of outputs is not
/// known in advance (a creator returning `Vec<File>`).
///
/// Four digits sort correctly up to 10 000 outputs; beyond that the index
/// simply grows wider, so names stay unique but stop sorting in order.
pub const OPEN_INDEX_WIDTH: usize = 4;

/// Domain separator at the start of every preimage, so that a run key can
/// never equal the blake3 of some other lake structure.
const PREIMAGE_MAGIC: &[u8; 8] = b"lake-key";

/// What identifies a creator's code.
///
/// The two variants are tagged in the preimage, so a version string equal to
/// some code hash still gives a different key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeIdentity {
    /// blake3 hex of the function's tokens, as `#[file_creator]` saw them.
    Hash(String),
    /// The string given as `#[file_creator(version = "...")]`.
    Version(String),
}

impl CodeIdentity {
    fn tag(&self) -> u8 {
        match self {
            Self::Hash(_) => 0,
            Self::Version(_) => 1,
        }
    }

    fn value(&self) -> &str {
        match self {
            Self::Hash(s) | Self::Version(s) => s,
        }
    }
}

/// The key of a run: blake3 of its [`KeyParams`].
///
/// Displayed, parsed and serialized as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey([u8; 32]);

impl RunKey {
    /// Wraps raw key bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The lowercase hex form.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// The first [`SHORT_KEY_LEN`] hex characters, as used in output names.
    pub fn short(&self) -> String {
        let mut s = self.to_hex();
        s.truncate(SHORT_KEY_LEN);
        s
    }
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Digest::from_bytes(self.0), f)
    }
}

impl fmt::Debug for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RunKey({self})")
    }
}

/// A string that is not a valid [`RunKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid run key {value:?}: expected 64 lowercase hex characters")]
pub struct RunKeyError {
    /// The rejected input, verbatim.
    pub value: String,
}

impl FromStr for RunKey {
    type Err = RunKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Digest>()
            .map(|d| Self(*d.as_bytes()))
            .map_err(|_| RunKeyError {
                value: s.to_owned(),
            })
    }
}

impl Serialize for RunKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything that enters a run's key.
///
/// Arguments and inputs are hashed in the order they are added, which is the
/// parameters' declaration order.
///
/// # Example
/// ```
/// use lake_core::{Digest, Name};
/// use lake_core::key::{canonical_bytes, CodeIdentity, KeyParams};
///
/// let key = KeyParams::new("my_crate::clean", CodeIdentity::Hash("ab12".into()))
///     .with_arg("threshold", &canonical_bytes(&0.5f64)?)
///     .with_input("raw", &"raw/data.csv".parse::<Name>()?, &Digest::of(b"1,2\n"))
///     .compute();
/// assert_eq!(key.to_string().len(), 64);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParams {
    creator_path: String,
    code: CodeIdentity,
    args: Vec<(String, Vec<u8>)>,
    inputs: Vec<InputRef>,
}

impl KeyParams {
    /// Starts the key of a run of the creator at `creator_path`.
    pub fn new(creator_path: &str, code: CodeIdentity) -> Self {
        Self {
            creator_path: creator_path.to_owned(),
            code,
            args: Vec::new(),
            inputs: Vec::new(),
        }
    }

    /// Adds the argument `param`, already canonically encoded.
    pub fn with_arg(mut self, param: &str, canonical: &[u8]) -> Self {
        self.args.push((param.to_owned(), canonical.to_vec()));
        self
    }

    /// Adds the input file `name` with content `digest` for `param`.
    ///
    /// Only `param` and `digest` enter the key: an input counts by content,
    /// so the same bytes under another name give the same key
    /// (docs/design/0002-keys.md). For list parameters, pass `param[i]`.
    pub fn with_input(mut self, param: &str, name: &Name, digest: &Digest) -> Self {
        self.inputs.push(InputRef {
            param: param.to_owned(),
            name: name.clone(),
            blake3: *digest,
        });
        self
    }

    /// The bytes that are hashed into the key.
    ///
    /// Layout: the magic `lake-key`, [`KEY_VERSION`] as `u32`, then
    /// length-prefixed fields. Every string and byte string is a `u64` length
    /// followed by its bytes; every list is a `u64` count followed by its
    /// items; all integers are little-endian. So no two different
    /// `KeyParams` share a preimage.
    pub fn preimage(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(PREIMAGE_MAGIC);
        out.extend_from_slice(&KEY_VERSION.to_le_bytes());
        put_bytes(&mut out, self.creator_path.as_bytes());
        out.push(self.code.tag());
        put_bytes(&mut out, self.code.value().as_bytes());
        put_len(&mut out, self.args.len());
        for (param, bytes) in &self.args {
            put_bytes(&mut out, param.as_bytes());
            put_bytes(&mut out, bytes);
        }
        put_len(&mut out, self.inputs.len());
        for input in &self.inputs {
            put_bytes(&mut out, input.param.as_bytes());
            out.extend_from_slice(input.blake3.as_bytes());
        }
        out
    }

    /// The key.
    pub fn compute(&self) -> RunKey {
        RunKey(*blake3::hash(&self.preimage()).as_bytes())
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// The implicit name of an output of a run.
///
/// - `index: None`, a single output: `<creator>/<short key>`;
/// - `index: Some((i, count))`, output `i` of `count`:
///   `<creator>/<short key>/<i>`, with `i` zero-padded to the width of
///   `count - 1` (at least one digit) so that names sort in order.
///
/// For a `Vec<File>` result, whose length is not known before the run, use
/// [`open_output_name`].
///
/// # Errors
/// A [`NameError`] when `creator_name` is not a valid name segment.
///
/// # Example
/// ```
/// use lake_core::key::{output_name, RunKey};
///
/// let key: RunKey = "00".repeat(32).parse()?;
/// assert_eq!(output_name("clean", &key, None)?.as_str(), "clean/0000000000000000");
/// assert_eq!(output_name("clean", &key, Some((3, 12)))?.as_str(), "clean/0000000000000000/03");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn output_name(
    creator_name: &str,
    key: &RunKey,
    index: Option<(usize, usize)>,
) -> Result<Name, NameError> {
    match index {
        None => Name::new(format!("{creator_name}/{}", key.short())),
        Some((i, count)) => {
            // `count - 1` is the largest index; `i` is included so that an
            // out-of-range index still gives a unique name.
            let width = digits(count.saturating_sub(1).max(i));
            indexed(creator_name, key, i, width)
        }
    }
}

/// The implicit name of output `index` of a run whose number of outputs is
/// not known in advance: `<creator>/<short key>/<index>`, zero-padded to
/// [`OPEN_INDEX_WIDTH`] digits.
///
/// # Errors
/// A [`NameError`] when `creator_name` is not a valid name segment.
pub fn open_output_name(creator_name: &str, key: &RunKey, index: usize) -> Result<Name, NameError> {
    indexed(creator_name, key, index, OPEN_INDEX_WIDTH)
}

fn indexed(creator_name: &str, key: &RunKey, i: usize, width: usize) -> Result<Name, NameError> {
    Name::new(format!("{creator_name}/{}/{i:0width$}", key.short()))
}

fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    /// The reference parameters; each test changes one component.
    fn base() -> KeyParams {
        KeyParams::new("demo::clean", CodeIdentity::Hash("c0de".into()))
            .with_arg("columns", &canonical_bytes(&vec!["a", "b"]).unwrap())
            .with_arg("threshold", &canonical_bytes(&5u32).unwrap())
            .with_input("raw", &name("raw/data.csv"), &Digest::of(b"data"))
            .with_input("extra", &name("raw/extra.csv"), &Digest::of(b"extra"))
    }

    fn key_of(p: KeyParams) -> RunKey {
        p.compute()
    }

    #[test]
    fn golden_key() {
        // Pins the preimage layout and the key; changing either is a
        // KEY_VERSION bump.
        assert_eq!(
            base().compute().to_string(),
            "38fa869d34ffefee39599b57220b4fef84a3072d58c6d28ccbc5899452cd0ec6"
        );
    }

    #[test]
    fn golden_arg_bytes() {
        // The canonical bytes of `base()`'s arguments, pinned byte by byte;
        // `canonical.rs` documents the tags.
        let str_a = [0x0f, 1, 0, 0, 0, 0, 0, 0, 0, b'a'];
        let str_b = [0x0f, 1, 0, 0, 0, 0, 0, 0, 0, b'b'];
        let mut columns = vec![0x1c, 2, 0, 0, 0, 0, 0, 0, 0];
        columns.extend(str_a);
        columns.extend(str_b);
        assert_eq!(canonical_bytes(&vec!["a", "b"]).unwrap(), columns);
        assert_eq!(canonical_bytes(&5u32).unwrap(), [0x09, 5, 0, 0, 0]);
    }

    #[test]
    fn golden_key_of_a_rich_argument() {
        // Sets and maps inside a struct and an enum: the same key in every
        // process (the HashSet and HashMap iterate in a random order in each
        // one), so a pinned hex checks determinism across processes too.
        use std::collections::{HashMap, HashSet};
        #[derive(Serialize)]
        enum Mode {
            Fixed { factor: f64 },
        }
        #[derive(Serialize)]
        struct Job {
            tags: HashSet<String>,
            weights: HashMap<String, Vec<u8>>,
            mode: Mode,
            limit: Option<u32>,
        }
        let job = Job {
            tags: (0..20).map(|i| format!("t{i}")).collect(),
            weights: (0..20).map(|i| (format!("w{i}"), vec![i, i + 1])).collect(),
            mode: Mode::Fixed { factor: 0.5 },
            limit: None,
        };
        let bytes = canonical_bytes(&job).unwrap();
        assert_eq!(
            Digest::of(&bytes).to_string(),
            "663173150680fbb32537297843ba094e7b5414d1c769288376f2b01f41d8e2dd"
        );
        let key = KeyParams::new("demo::job", CodeIdentity::Version("1".into()))
            .with_arg("job", &bytes)
            .compute();
        assert_eq!(
            key.to_string(),
            "748f361a32c52810fe611d0805240099448fad1d969b9346059f5004e1177620"
        );
    }

    #[test]
    fn golden_preimage_prefix() {
        let p = KeyParams::new("m::f", CodeIdentity::Version("2".into())).preimage();
        let mut expected = b"lake-key".to_vec();
        expected.extend(KEY_VERSION.to_le_bytes());
        expected.extend([4, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend(b"m::f");
        expected.push(1);
        expected.extend([1, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend(b"2");
        expected.extend([0; 8]);
        expected.extend([0; 8]);
        assert_eq!(p, expected);
    }

    #[test]
    fn key_version_is_in_the_preimage() {
        let pre = base().preimage();
        assert_eq!(&pre[8..12], &KEY_VERSION.to_le_bytes());
    }

    #[test]
    fn creator_path_changes_key() {
        let mut p = base();
        p.creator_path = "demo::clean2".into();
        assert_ne!(key_of(p), base().compute());
    }

    #[test]
    fn code_hash_changes_key() {
        let mut p = base();
        p.code = CodeIdentity::Hash("c0df".into());
        assert_ne!(key_of(p), base().compute());
    }

    #[test]
    fn version_changes_key() {
        let v = |s: &str| {
            let mut p = base();
            p.code = CodeIdentity::Version(s.into());
            p.compute()
        };
        assert_ne!(v("1"), v("2"));
    }

    #[test]
    fn hash_and_version_never_collide() {
        let mut p = base();
        p.code = CodeIdentity::Version("c0de".into());
        assert_ne!(key_of(p), base().compute());
    }

    #[test]
    fn each_arg_value_changes_key() {
        let mut p = base();
        p.args[0].1 = canonical_bytes(&vec!["a", "c"]).unwrap();
        assert_ne!(key_of(p), base().compute());
        let mut p = base();
        p.args[1].1 = canonical_bytes(&6u32).unwrap();
        assert_ne!(key_of(p), base().compute());
    }

    #[test]
    fn arg_name_changes_key() {
        let mut p = base();
        p.args[1].0 = "limit".into();
        assert_ne!(key_of(p), base().compute());
    }

    #[test]
    fn arg_boundaries_are_unambiguous() {
        let a = KeyParams::new("m::f", CodeIdentity::Hash("h".into()))
            .with_arg("ab", b"c")
            .compute();
        let b = KeyParams::new("m::f", CodeIdentity::Hash("h".into()))
            .with_arg("a", b"bc")
            .compute();
        assert_ne!(a, b);
    }

    #[test]
    fn input_param_changes_key() {
        let mut p = base();
        p.inputs[0].param = "source".into();
        assert_ne!(key_of(p), base().compute());
    }

    #[test]
    fn input_digest_changes_key() {
        let mut p = base();
        p.inputs[0].blake3 = Digest::of(b"other data");
        assert_ne!(key_of(p), base().compute());
    }

    #[test]
    fn same_input_content_under_a_new_name_keeps_key() {
        // Inputs count by content (early cutoff); see docs/design/0002-keys.md.
        let mut p = base();
        p.inputs[0].name = name("raw/renamed.csv");
        assert_eq!(key_of(p), base().compute());
    }

    #[test]
    fn ordering_changes_key() {
        let mut p = base();
        p.args.swap(0, 1);
        assert_ne!(key_of(p), base().compute());
        let mut p = base();
        p.inputs.swap(0, 1);
        assert_ne!(key_of(p), base().compute());
    }

    #[test]
    fn run_key_hex_roundtrip_and_serde() {
        let k = base().compute();
        assert_eq!(k.to_string().parse::<RunKey>().unwrap(), k);
        assert_eq!(k.short(), &k.to_string()[..16]);
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, format!("\"{k}\""));
        assert_eq!(serde_json::from_str::<RunKey>(&json).unwrap(), k);
        let err = "XYZ".parse::<RunKey>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid run key \"XYZ\": expected 64 lowercase hex characters"
        );
    }

    #[test]
    fn output_names() {
        let k: RunKey = "0123456789abcdef".repeat(4).parse().unwrap();
        let n = |i| output_name("clean", &k, i).unwrap().to_string();
        assert_eq!(n(None), "clean/0123456789abcdef");
        assert_eq!(n(Some((0, 1))), "clean/0123456789abcdef/0");
        assert_eq!(n(Some((9, 10))), "clean/0123456789abcdef/9");
        assert_eq!(n(Some((3, 11))), "clean/0123456789abcdef/03");
        assert_eq!(n(Some((42, 101))), "clean/0123456789abcdef/042");
        assert_eq!(
            open_output_name("clean", &k, 7).unwrap().to_string(),
            "clean/0123456789abcdef/0007"
        );
        assert!(output_name("a/../b", &k, None).is_err());
    }
}
