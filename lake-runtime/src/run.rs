//! Runs of `#[file_creator]` functions: key, hit check, body, commit.
//!
//! The macro emits a [`Call`] that gathers the run's inputs and arguments,
//! then hands the body to [`run_file_creator`] (or the async twin). Order of
//! a miss: compute the key → look for `runs/<key>.json` → run the body with a
//! [`RunContext`] that hands out output names → upload blobs → create name
//! records → create the run manifest last. A crash anywhere before the
//! manifest leaves at most unreferenced blobs or complete name records, and
//! the next call finishes the run.

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lake_core::key::{CodeIdentity, KeyParams, RunKey, encode_arg, open_output_name, output_name};
use lake_core::{
    CfgValue, CodeIngredients, CodePart, Digest, InputRef, Lineage, Name, ParamRecord, Record,
    RunLineage,
};
use serde::{Deserialize, Serialize};

use crate::blocking::block_on;
use crate::outcome::{HitSource, KeyComponents, Outcome, RunReason};
use crate::{Error, File, Lake, Result};

/// What the macro knows about a creator, fixed at compile time.
#[derive(Debug)]
pub struct CreatorInfo {
    /// The function's name.
    pub name: &'static str,
    /// `module_path!()` where it is defined.
    pub module_path: &'static str,
    /// What encloses the function within its module, as the macro read it
    /// from the source: `""` for a free function, `"outer()::"` inside
    /// `fn outer`, `"<Double>::"` or `"<Double as Scale>::"` inside an
    /// `impl` block (levels stack up). Part of the identity, so that two
    /// creators of one name in one module never share outputs.
    pub enclosing: &'static str,
    /// `file!()` of its definition.
    pub source_file: &'static str,
    /// Line of its `fn` token.
    pub source_line: u32,
    /// blake3 hex of its tokens and of everything they reach, as the macro
    /// saw them (docs/design/0009); [`CreatorInfo::identity_hash`] mixes in
    /// the cfg values.
    pub code_hash: &'static str,
    /// What `code_hash` covers: (kind, name, first 16 hex of its blake3).
    pub code_parts: &'static [(&'static str, &'static str, &'static str)],
    /// The cfg predicates the code tests, valued in the defining crate.
    pub code_cfg: &'static [(&'static str, bool)],
    /// [`CreatorInfo::identity_hash`], computed once per process.
    pub code_identity: CodeIdentityCell,
    /// `#[file_creator(version = "...")]`.
    pub version: Option<&'static str>,
    /// `CARGO_PKG_NAME` of the defining crate.
    pub crate_name: &'static str,
    /// `CARGO_PKG_VERSION` of the defining crate.
    pub crate_version: &'static str,
    /// `CARGO_MANIFEST_DIR` of the defining crate, to find its git repository.
    pub manifest_dir: &'static str,
}

impl CreatorInfo {
    /// The creator's identity, unique in the program:
    /// `module::path::` + [`enclosing`](Self::enclosing) + name.
    pub fn path(&self) -> String {
        format!("{}::{}{}", self.module_path, self.enclosing, self.name)
    }

    fn location(&self) -> String {
        format!("{}:{}", self.source_file, self.source_line)
    }

    fn code_identity(&self) -> CodeIdentity {
        match self.version {
            Some(v) => CodeIdentity::Version(v.to_owned()),
            None => CodeIdentity::Hash(self.identity_hash().to_owned()),
        }
    }

    /// The code identity: the macro's hash with the cfg values of this
    /// build mixed in, which only the compiled crate knows. Computed on
    /// first use; the warm hit path only reads it.
    pub fn identity_hash(&self) -> &str {
        self.code_identity.0.get_or_init(|| {
            if self.code_cfg.is_empty() {
                return self.code_hash.to_owned();
            }
            let mut hasher = blake3::Hasher::new();
            hasher.update(self.code_hash.as_bytes());
            for (predicate, value) in self.code_cfg {
                hasher.update(&(predicate.len() as u64).to_le_bytes());
                hasher.update(predicate.as_bytes());
                hasher.update(&[u8::from(*value)]);
            }
            hasher.finalize().to_hex().to_string()
        })
    }

    /// What went into [`CreatorInfo::identity_hash`], for the lineage.
    pub fn code_ingredients(&self) -> CodeIngredients {
        if self.version.is_some() {
            return CodeIngredients::default();
        }
        CodeIngredients {
            parts: self
                .code_parts
                .iter()
                .map(|(kind, name, hash)| CodePart {
                    kind: (*kind).to_owned(),
                    name: (*name).to_owned(),
                    hash: (*hash).to_owned(),
                })
                .collect(),
            cfg: self
                .code_cfg
                .iter()
                .map(|(predicate, value)| CfgValue {
                    predicate: (*predicate).to_owned(),
                    value: *value,
                })
                .collect(),
        }
    }
}

/// The lazily computed code identity inside a [`CreatorInfo`]; generated
/// code creates it with [`CodeIdentityCell::new`].
#[derive(Debug, Default)]
pub struct CodeIdentityCell(std::sync::OnceLock<String>);

impl CodeIdentityCell {
    /// An empty cell.
    pub const fn new() -> Self {
        Self(std::sync::OnceLock::new())
    }
}

/// Registers a creator with `inventory`; see [`crate::creators`].
#[derive(Debug)]
pub struct Registration(pub &'static CreatorInfo);

inventory::collect!(Registration);

/// Version of the [`RunManifest`] JSON layout.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// `runs/<key>.json`: the proof that a run finished, and its outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// [`MANIFEST_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The run key, hex.
    pub key: RunKey,
    /// The creator's path.
    pub creator: String,
    /// The creator's code hash at the time.
    pub code_hash: String,
    /// The creator's `version`, if any.
    pub version: Option<String>,
    /// Outputs in order.
    pub outputs: Vec<ManifestOutput>,
    /// When the manifest was written.
    pub committed_at: DateTime<Utc>,
}

/// One output in a [`RunManifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestOutput {
    /// Its name.
    pub name: Name,
    /// Its digest.
    pub blake3: Digest,
    /// Its size.
    pub size: u64,
}

// ------------------------------------------------------------------ inputs

/// Parameter types that carry input files.
pub trait InputFiles {
    /// The files, each with its index inside a list parameter.
    fn input_files(&self) -> Vec<(Option<usize>, &File)>;
}

impl InputFiles for File {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        vec![(None, self)]
    }
}

impl<T: InputFiles + ?Sized> InputFiles for &T {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        (**self).input_files()
    }
}

impl InputFiles for [File] {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        self.iter().enumerate().map(|(i, f)| (Some(i), f)).collect()
    }
}

impl InputFiles for Vec<File> {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        self.as_slice().input_files()
    }
}

impl InputFiles for Option<File> {
    fn input_files(&self) -> Vec<(Option<usize>, &File)> {
        self.iter().map(|f| (None, f)).collect()
    }
}

// ----------------------------------------------------------------- outputs

/// Return shapes that hold a run's outputs: `File`, `Vec<File>`, tuples.
pub trait Outputs: Sized {
    /// The number of outputs if the type fixes it.
    const ARITY: Option<usize>;
    /// The files, in order.
    fn into_files(self) -> Vec<File>;
    /// Rebuilds the value from files (a cache hit).
    fn from_files(files: Vec<File>) -> Result<Self>;
}

impl Outputs for File {
    const ARITY: Option<usize> = Some(1);
    fn into_files(self) -> Vec<File> {
        vec![self]
    }
    fn from_files(files: Vec<File>) -> Result<Self> {
        let count = files.len();
        let mut it = files.into_iter();
        match (it.next(), it.next()) {
            (Some(file), None) => Ok(file),
            _ => Err(arity_error(1, count)),
        }
    }
}

impl Outputs for Vec<File> {
    const ARITY: Option<usize> = None;
    fn into_files(self) -> Vec<File> {
        self
    }
    fn from_files(files: Vec<File>) -> Result<Self> {
        Ok(files)
    }
}

fn arity_error(expected: usize, found: usize) -> Error {
    Error::Run(format!(
        "the run manifest lists {found} output(s) but the creator returns {expected}"
    ))
}

macro_rules! tuple_outputs {
    ($n:literal: $($f:ident),+) => {
        impl Outputs for ($(tuple_outputs!(@file $f),)+) {
            const ARITY: Option<usize> = Some($n);
            fn into_files(self) -> Vec<File> {
                let ($($f,)+) = self;
                vec![$($f),+]
            }
            fn from_files(files: Vec<File>) -> Result<Self> {
                let count = files.len();
                let mut it = files.into_iter();
                $(let $f = it.next().ok_or_else(|| arity_error($n, count))?;)+
                if it.next().is_some() {
                    return Err(arity_error($n, count));
                }
                Ok(($($f,)+))
            }
        }
    };
    (@file $f:ident) => { File };
}

tuple_outputs!(1: a);
tuple_outputs!(2: a, b);
tuple_outputs!(3: a, b, c);
tuple_outputs!(4: a, b, c, d);
tuple_outputs!(5: a, b, c, d, e);
tuple_outputs!(6: a, b, c, d, e, f);
tuple_outputs!(7: a, b, c, d, e, f, g);
tuple_outputs!(8: a, b, c, d, e, f, g, h);
tuple_outputs!(9: a, b, c, d, e, f, g, h, i);
tuple_outputs!(10: a, b, c, d, e, f, g, h, i, j);
tuple_outputs!(11: a, b, c, d, e, f, g, h, i, j, k);
tuple_outputs!(12: a, b, c, d, e, f, g, h, i, j, k, l);

/// What a creator returns: outputs, or `Result` of outputs.
pub trait CreatorReturn: Sized {
    /// The outputs inside.
    type Outputs: Outputs;
    /// The outputs, or the value to hand back unchanged (a user error).
    fn into_outputs(self) -> std::result::Result<Self::Outputs, Self>;
    /// Wraps outputs.
    fn from_outputs(outputs: Self::Outputs) -> Self;
    /// Reports a lake failure: an `Err` for `Result` returns, else a panic,
    /// since a plain `File` return has no other way to fail.
    fn from_lake_error(error: Error) -> Self;
}

impl<T: Outputs> CreatorReturn for T {
    type Outputs = T;
    fn into_outputs(self) -> std::result::Result<T, Self> {
        Ok(self)
    }
    fn from_outputs(outputs: T) -> Self {
        outputs
    }
    fn from_lake_error(error: Error) -> Self {
        panic!("lake: {error}")
    }
}

impl<T: Outputs, E: From<Error>> CreatorReturn for std::result::Result<T, E> {
    type Outputs = T;
    fn into_outputs(self) -> std::result::Result<T, Self> {
        match self {
            Ok(outputs) => Ok(outputs),
            Err(e) => Err(Err(e)),
        }
    }
    fn from_outputs(outputs: T) -> Self {
        Ok(outputs)
    }
    fn from_lake_error(error: Error) -> Self {
        Err(E::from(error))
    }
}

// ---------------------------------------------------------- explicit names

/// Types an `output_uid` parameter may have: `&str`, `String`, `Name`, …
pub trait OutputName {
    /// The validated name.
    fn to_output_name(&self) -> Result<Name>;
}

impl OutputName for str {
    fn to_output_name(&self) -> Result<Name> {
        Ok(Name::new(self)?)
    }
}

impl OutputName for String {
    fn to_output_name(&self) -> Result<Name> {
        self.as_str().to_output_name()
    }
}

impl OutputName for Name {
    fn to_output_name(&self) -> Result<Name> {
        Ok(self.clone())
    }
}

impl OutputName for std::borrow::Cow<'_, str> {
    fn to_output_name(&self) -> Result<Name> {
        self.as_ref().to_output_name()
    }
}

impl<T: OutputName + ?Sized> OutputName for &T {
    fn to_output_name(&self) -> Result<Name> {
        (**self).to_output_name()
    }
}

impl<T: OutputName + ?Sized> OutputName for Box<T> {
    fn to_output_name(&self) -> Result<Name> {
        (**self).to_output_name()
    }
}

/// Types an `output_uids` parameter may have: `Vec<_>`, slices and arrays
/// of [`OutputName`]s.
pub trait OutputNames {
    /// The validated names, in order.
    fn to_output_names(&self) -> Result<Vec<Name>>;
}

impl<T: OutputName> OutputNames for [T] {
    fn to_output_names(&self) -> Result<Vec<Name>> {
        self.iter().map(OutputName::to_output_name).collect()
    }
}

impl<T: OutputName> OutputNames for Vec<T> {
    fn to_output_names(&self) -> Result<Vec<Name>> {
        self.as_slice().to_output_names()
    }
}

impl<T: OutputName, const N: usize> OutputNames for [T; N] {
    fn to_output_names(&self) -> Result<Vec<Name>> {
        self.as_slice().to_output_names()
    }
}

impl<T: OutputNames + ?Sized> OutputNames for &T {
    fn to_output_names(&self) -> Result<Vec<Name>> {
        (**self).to_output_names()
    }
}

// -------------------------------------------------------------------- call

/// The inputs and arguments of one call, gathered by generated code.
#[derive(Debug)]
pub struct Call {
    info: &'static CreatorInfo,
    inputs: Vec<(String, File)>,
    args: Vec<ArgValue>,
    explicit_outputs: Option<Vec<Name>>,
    error: Option<Error>,
}

#[derive(Debug)]
struct ArgValue {
    name: &'static str,
    canonical: Vec<u8>,
    json: serde_json::Value,
}

impl Call {
    /// Starts gathering a call of `info`.
    pub fn new(info: &'static CreatorInfo) -> Self {
        Self {
            info,
            inputs: Vec::new(),
            args: Vec::new(),
            explicit_outputs: None,
            error: shared_identity(),
        }
    }

    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    /// Adds the input file parameter `param`.
    pub fn input<I: InputFiles + ?Sized>(&mut self, param: &'static str, files: &I) {
        for (index, file) in files.input_files() {
            let label = match index {
                Some(i) => format!("{param}[{i}]"),
                None => param.to_owned(),
            };
            self.inputs.push((label, file.clone()));
        }
    }

    /// Adds the argument `param`, canonically encoded (unordered
    /// collections sorted wherever they appear).
    pub fn arg<T: Serialize + ?Sized>(&mut self, param: &'static str, value: &T) {
        let canonical = match encode_arg(param, value) {
            Ok(bytes) => bytes,
            Err(e) => return self.fail(e.into()),
        };
        let json = serde_json::to_value(value).unwrap_or_else(|e| {
            serde_json::Value::String(format!("<not representable as JSON: {e}>"))
        });
        self.args.push(ArgValue {
            name: param,
            canonical,
            json,
        });
    }

    /// Sets the single explicit output name (`output_uid`). Borrowed, so
    /// the body can still use the parameter.
    pub fn output_uid<N: OutputName + ?Sized>(&mut self, name: &N) {
        match name.to_output_name() {
            Ok(name) => self.explicit_outputs = Some(vec![name]),
            Err(e) => self.fail(e),
        }
    }

    /// Sets several explicit output names (`output_uids`).
    pub fn output_uids<N: OutputNames + ?Sized>(&mut self, names: &N) {
        match names.to_output_names() {
            Ok(names) => self.explicit_outputs = Some(names),
            Err(e) => self.fail(e),
        }
    }

    /// The lake the call runs on: its first input's, else the current one.
    fn lake(&self) -> Result<Lake> {
        match self.inputs.first() {
            Some((_, file)) => Ok(file.lake().clone()),
            None => Lake::current(),
        }
    }

    /// A hit answered from this home alone, synchronously: the in-process
    /// memo when warm (no SQLite, no JSON), else the index. No runtime is
    /// started and the store is not asked. `None` means "ask the slow
    /// path", never "miss".
    fn local_hit(&self, lake: &Lake) -> Option<LocalHit> {
        if self.error.is_some() {
            return None;
        }
        let mut key = KeyParams::new(&self.info.path(), self.info.code_identity());
        for arg in &self.args {
            key = key.with_arg(arg.name, &arg.canonical);
        }
        let mut digests = Vec::with_capacity(self.inputs.len());
        for (param, file) in &self.inputs {
            let digest = file.lake().indexed_digest(file.name())?;
            key = key.with_input(param, file.name(), &digest);
            digests.push(digest);
        }
        let key = key.compute();
        if let Some(names) = &self.explicit_outputs {
            // Explicit names are a hit only if every one was made by a run
            // with this very key; anything else goes to the slow path,
            // which re-checks with the store and explains a refusal.
            let source = if names.iter().all(|n| lake.cached_maker(n).is_some()) {
                HitSource::Memory
            } else {
                HitSource::Index
            };
            for name in names {
                if lake.indexed_maker(name)? != Some(key) {
                    return None;
                }
            }
            let files = names
                .iter()
                .map(|n| File::from_parts(lake.clone(), n.clone()))
                .collect();
            return Some(LocalHit {
                files,
                source,
                key,
                digests,
            });
        }
        let (names, source) = match lake.cached_run(&key) {
            Some(names) => (names, HitSource::Memory),
            None => (lake.indexed_run(&key)?, HitSource::Index),
        };
        let files = names
            .iter()
            .map(|n| File::from_parts(lake.clone(), n.clone()))
            .collect();
        Some(LocalHit {
            files,
            source,
            key,
            digests,
        })
    }

    /// What went into a local hit's key, for a tracking lake.
    fn components(&self, digests: &[Digest]) -> KeyComponents {
        KeyComponents {
            code: format!("{:?}", self.info.code_identity()),
            args: self
                .args
                .iter()
                .map(|a| (a.name.to_owned(), Digest::of(&a.canonical)))
                .collect(),
            inputs: self
                .inputs
                .iter()
                .zip(digests)
                .map(|((param, _), digest)| (param.clone(), *digest))
                .collect(),
        }
    }

    /// Resolves input digests and computes the key.
    async fn plan(self, lake: Result<Lake>) -> Result<Plan> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let lake = lake?;
        let mut key = KeyParams::new(&self.info.path(), self.info.code_identity());
        let mut params = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            key = key.with_arg(arg.name, &arg.canonical);
            params.push(ParamRecord {
                name: arg.name.to_owned(),
                json: arg.json.clone(),
                hash: Digest::of(&arg.canonical),
            });
        }
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for (param, file) in &self.inputs {
            let digest = file.digest_async().await?;
            key = key.with_input(param, file.name(), &digest);
            inputs.push(InputRef {
                param: param.clone(),
                name: file.name().clone(),
                blake3: digest,
            });
        }
        Ok(Plan {
            info: self.info,
            lake,
            key: key.compute(),
            inputs,
            params,
            explicit_outputs: self.explicit_outputs,
            forced: false,
        })
    }
}

/// A hit found without the store.
struct LocalHit {
    files: Vec<File>,
    source: HitSource,
    key: RunKey,
    digests: Vec<Digest>,
}

struct Plan {
    info: &'static CreatorInfo,
    lake: Lake,
    key: RunKey,
    inputs: Vec<InputRef>,
    params: Vec<ParamRecord>,
    explicit_outputs: Option<Vec<Name>>,
    /// A forced re-run ([`Lake::force`]) must reproduce the committed bytes.
    forced: bool,
}

impl Plan {
    /// The outputs of a finished run, if there is one. Downloads no content.
    async fn lookup(&self) -> Result<Option<Vec<File>>> {
        if let Some(names) = &self.explicit_outputs {
            // Explicit names keep the key that made them (issue 10): they
            // are a hit only when every one exists with this run's key. A
            // name made with another key, or added, is refused rather than
            // returned (a false hit) or overwritten (names are immutable).
            // A missing name means a miss: the run (re)makes it.
            let mut all_exist = true;
            for name in names {
                match self.lake.try_record(name).await? {
                    Some(record) if self.made_this_run(&record) => {}
                    Some(_) => {
                        // The index may remember a name that was removed
                        // from the store since, as the refusal suggests.
                        match self.lake.record_from_store(name).await? {
                            Some(record) => self.check_explicit(&record)?,
                            None => all_exist = false,
                        }
                    }
                    None => all_exist = false,
                }
            }
            if !all_exist {
                return Ok(None);
            }
            return Ok(Some(
                names
                    .iter()
                    .map(|n| File::from_parts(self.lake.clone(), n.clone()))
                    .collect(),
            ));
        }
        let Some(manifest) = self.lake.run_manifest(&self.key).await? else {
            return Ok(None);
        };
        Ok(Some(
            manifest
                .outputs
                .into_iter()
                .map(|o| File::from_parts(self.lake.clone(), o.name))
                .collect(),
        ))
    }

    /// What went into the key, for a tracking lake.
    fn components(&self) -> KeyComponents {
        KeyComponents {
            code: format!("{:?}", self.info.code_identity()),
            args: self
                .params
                .iter()
                .map(|p| (p.name.clone(), p.hash))
                .collect(),
            inputs: self
                .inputs
                .iter()
                .map(|i| (i.param.clone(), i.blake3))
                .collect(),
        }
    }

    /// Records `outcome` if the lake tracks outcomes.
    fn record(&self, outcome: Outcome) {
        let log = self.lake.outcome_log();
        if log.is_tracking() {
            log.record(self.info, outcome, self.key, self.components());
        }
    }

    /// True if `record` was made by a run with this plan's key.
    fn made_this_run(&self, record: &Record) -> bool {
        matches!(&record.lineage, Lineage::Created(run) if run.run_key == self.key.to_hex())
    }

    /// Refuses the existing explicit output `record` unless this plan's run
    /// made it, naming what differs.
    fn check_explicit(&self, record: &Record) -> Result<()> {
        if self.made_this_run(record) {
            return Ok(());
        }
        let why = match &record.lineage {
            Lineage::Created(run) => format!(
                "was made by another call: {}",
                key_differences(run, self.info, &self.params, &self.inputs).join("; ")
            ),
            _ => "was added (lake add or File::create), not made by a run".to_owned(),
        };
        Err(Error::Run(format!(
            "output {:?} of {} already exists and {why}; a name given in output_uid(s) keeps \
             the key that made it, so choose another name, or remove the old file \
             ({} in the store) to run again",
            record.name.as_str(),
            self.info.path(),
            lake_core::StorePath::name_record(&record.name),
        )))
    }

    fn context(&self, arity: Option<usize>) -> Arc<RunContext> {
        Arc::new(RunContext {
            lake: self.lake.clone(),
            creator: self.info.path(),
            creator_name: self.info.name,
            key: self.key,
            arity,
            explicit: self.explicit_outputs.clone(),
            issued: Mutex::new(0),
            pending: Mutex::new(Vec::new()),
        })
    }

    /// Commits the body's outputs: blobs, then name records, then manifest.
    async fn commit(
        &self,
        context: &RunContext,
        files: Vec<File>,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    ) -> Result<Vec<File>> {
        let pending = std::mem::take(&mut *context.pending.lock().expect("run context poisoned"));
        let mut outputs = Vec::with_capacity(files.len());
        for file in &files {
            let Some(p) = pending.iter().find(|p| &p.name == file.name()) else {
                return Err(Error::Run(format!(
                    "{} returned {:?}, which it did not create in this run; a creator returns only files it made with File::create_output()",
                    self.info.path(),
                    file.name().as_str()
                )));
            };
            outputs.push(p.clone());
        }
        let names: Vec<Name> = outputs.iter().map(|o| o.name.clone()).collect();
        let git = crate::lineage::git_info(
            self.info.manifest_dir,
            self.info.source_file,
            self.info.source_line,
        );
        let code = self.info.code_ingredients();
        let mut committed = Vec::with_capacity(outputs.len());
        for (index, output) in outputs.iter().enumerate() {
            let lineage = RunLineage {
                creator: self.info.path(),
                source_file: self.info.source_file.to_owned(),
                source_line: self.info.source_line,
                code_hash: self.info.identity_hash().to_owned(),
                code: code.clone(),
                version: self.info.version.map(str::to_owned),
                run_key: self.key.to_hex(),
                output_index: index as u32,
                outputs: names.clone(),
                inputs: self.inputs.clone(),
                params: self.params.clone(),
                originator: self.lake.originator().to_owned(),
                lake_version: env!("CARGO_PKG_VERSION").to_owned(),
                crate_name: self.info.crate_name.to_owned(),
                crate_version: self.info.crate_version.to_owned(),
                git: git.clone(),
                started_at,
                ended_at,
                duration_ms: (ended_at - started_at).num_milliseconds().max(0) as u64,
                host: crate::lineage::host(),
            };
            let record = self
                .lake
                .commit_output(
                    &output.name,
                    output.blake3,
                    output.size,
                    Lineage::Created(Box::new(lineage)),
                )
                .await?;
            // A concurrent run's other bytes are kept silently (the first
            // commit wins), but a forced re-run exists to check the step:
            // bytes that differ from what other homes trust are an error.
            if self.forced && record.blake3 != output.blake3 {
                return Err(Error::NameTaken {
                    name: record.name,
                    existing: record.blake3,
                    offered: output.blake3,
                });
            }
            if self.explicit_outputs.is_some() {
                // A concurrent call with another key may have taken the
                // name since the lookup: its output is not ours to return.
                self.check_explicit(&record)?;
            }
            committed.push(ManifestOutput {
                name: record.name.clone(),
                blake3: record.blake3,
                size: record.size,
            });
        }
        let manifest = RunManifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            key: self.key,
            creator: self.info.path(),
            code_hash: self.info.identity_hash().to_owned(),
            version: self.info.version.map(str::to_owned),
            outputs: committed,
            committed_at: Utc::now(),
        };
        let manifest = self.lake.commit_manifest(manifest).await?;
        if let Some(names) = &self.explicit_outputs {
            // The key does not include explicit names, so an earlier call
            // with the same key under other names may own the manifest;
            // this call's outputs are its own names, just committed.
            return Ok(names
                .iter()
                .map(|n| File::from_parts(self.lake.clone(), n.clone()))
                .collect());
        }
        Ok(manifest
            .outputs
            .into_iter()
            .map(|o| File::from_parts(self.lake.clone(), o.name))
            .collect())
    }
}

// ------------------------------------------------------------ run context

/// The run in progress on this thread or task: hands out output names and
/// collects what the body wrote.
#[derive(Debug)]
pub(crate) struct RunContext {
    pub(crate) lake: Lake,
    creator: String,
    creator_name: &'static str,
    key: RunKey,
    arity: Option<usize>,
    explicit: Option<Vec<Name>>,
    issued: Mutex<usize>,
    pending: Mutex<Vec<ManifestOutput>>,
}

impl RunContext {
    /// The name of the next implicit output.
    pub(crate) fn next_output_name(&self) -> Result<Name> {
        let index = {
            let mut issued = self.issued.lock().expect("run context poisoned");
            *issued += 1;
            *issued - 1
        };
        if let Some(names) = &self.explicit {
            return names.get(index).cloned().ok_or_else(|| {
                Error::Run(format!(
                    "{} creates more outputs than the {} name(s) given in output_uid(s)",
                    self.creator,
                    names.len()
                ))
            });
        }
        let name = match self.arity {
            Some(1) if index == 0 => output_name(self.creator_name, &self.key, None),
            Some(n) if index < n => output_name(self.creator_name, &self.key, Some((index, n))),
            Some(n) => {
                return Err(Error::Run(format!(
                    "{} creates more than the {n} output(s) its return type holds",
                    self.creator
                )));
            }
            None => open_output_name(self.creator_name, &self.key, index),
        };
        Ok(name?)
    }

    /// Checks that the body may create `name`.
    pub(crate) fn check_explicit_name(&self, name: &Name) -> Result<()> {
        match &self.explicit {
            Some(names) if names.contains(name) => Ok(()),
            _ => Err(Error::Run(format!(
                "{} tried to create {:?}; inside a creator, create outputs with File::create_output(), or pass the name as output_uid",
                self.creator,
                name.as_str()
            ))),
        }
    }

    pub(crate) fn add_pending(&self, output: ManifestOutput) {
        self.pending
            .lock()
            .expect("run context poisoned")
            .push(output);
    }
}

thread_local! {
    static CURRENT_RUN: RefCell<Option<Arc<RunContext>>> = const { RefCell::new(None) };
}

tokio::task_local! {
    static CURRENT_ASYNC_RUN: Arc<RunContext>;
}

/// The run the caller is inside, if any.
pub(crate) fn current_run() -> Option<Arc<RunContext>> {
    CURRENT_ASYNC_RUN
        .try_with(Arc::clone)
        .ok()
        .or_else(|| CURRENT_RUN.with(|c| c.borrow().clone()))
}

struct RunGuard(Option<Arc<RunContext>>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        CURRENT_RUN.with(|c| *c.borrow_mut() = self.0.take());
    }
}

fn enter(context: Arc<RunContext>) -> RunGuard {
    RunGuard(CURRENT_RUN.with(|c| c.borrow_mut().replace(context)))
}

// ------------------------------------------------------------ entry points

/// A call after its key and hit check.
enum Prepared {
    /// The run is done: its outputs.
    Hit(Vec<File>),
    /// The body must run, for this reason.
    Miss(Plan, RunReason),
}

/// Computes the key and checks for a finished run (no content downloaded),
/// unless the creator is forced.
async fn prepare(call: Call, lake: Result<Lake>, forced: bool) -> Result<Prepared> {
    let mut plan = call.plan(lake).await?;
    if forced {
        plan.forced = true;
        return Ok(Prepared::Miss(plan, RunReason::Forced));
    }
    Ok(match plan.lookup().await? {
        Some(files) => {
            plan.record(Outcome::Hit(HitSource::Store));
            Prepared::Hit(files)
        }
        None if plan.explicit_outputs.is_some() => Prepared::Miss(plan, RunReason::OutputsMissing),
        None => Prepared::Miss(plan, RunReason::NoRun),
    })
}

/// The fast path shared by both entry points: the lake, whether the call
/// is forced, and a hit answered by this home alone.
fn start(call: &Call) -> (Result<Lake>, bool, Option<Vec<File>>) {
    let lake = call.lake();
    let Ok(lake_ref) = &lake else {
        return (lake, false, None);
    };
    let log = lake_ref.outcome_log();
    if log.is_forced(call.info) {
        return (lake, true, None);
    }
    let Some(local) = call.local_hit(lake_ref) else {
        return (lake, false, None);
    };
    if log.is_tracking() {
        log.record(
            call.info,
            Outcome::Hit(local.source),
            local.key,
            call.components(&local.digests),
        );
    }
    (lake, false, Some(local.files))
}

fn hit<R: CreatorReturn>(info: &CreatorInfo, files: Vec<File>) -> R {
    tracing::info!("skipping {}: outputs exist", info.path());
    from_files::<R>(files)
}

/// Runs a sync creator: skip on a hit, else run `body` and commit.
pub fn run_file_creator<R, F>(call: Call, body: F) -> R
where
    R: CreatorReturn,
    F: FnOnce() -> R,
{
    let info = call.info;
    let (lake, forced, local) = start(&call);
    if let Some(files) = local {
        return hit(info, files);
    }
    let (plan, reason) = match block_on(prepare(call, lake, forced)) {
        Ok(Prepared::Hit(files)) => return hit(info, files),
        Ok(Prepared::Miss(plan, reason)) => (plan, reason),
        Err(e) => return R::from_lake_error(e),
    };
    let context = plan.context(<R::Outputs as Outputs>::ARITY);
    let started_at = Utc::now();
    let result = {
        let _guard = enter(context.clone());
        body()
    };
    let ended_at = Utc::now();
    match result.into_outputs() {
        Ok(outputs) => {
            let committed =
                block_on(plan.commit(&context, outputs.into_files(), started_at, ended_at));
            if committed.is_ok() {
                plan.record(Outcome::Ran(reason));
            }
            from_commit(committed)
        }
        // The body failed: its staged outputs are dropped uncommitted.
        Err(user_error) => user_error,
    }
}

/// Runs an async creator: skip on a hit, else await `body` and commit.
pub async fn run_file_creator_async<R, Fut>(call: Call, body: Fut) -> R
where
    R: CreatorReturn,
    Fut: Future<Output = R>,
{
    let info = call.info;
    let (lake, forced, local) = start(&call);
    if let Some(files) = local {
        return hit(info, files);
    }
    let (plan, reason) = match prepare(call, lake, forced).await {
        Ok(Prepared::Hit(files)) => return hit(info, files),
        Ok(Prepared::Miss(plan, reason)) => (plan, reason),
        Err(e) => return R::from_lake_error(e),
    };
    let context = plan.context(<R::Outputs as Outputs>::ARITY);
    let started_at = Utc::now();
    let result = CURRENT_ASYNC_RUN.scope(context.clone(), body).await;
    let ended_at = Utc::now();
    match result.into_outputs() {
        Ok(outputs) => {
            let committed = plan
                .commit(&context, outputs.into_files(), started_at, ended_at)
                .await;
            if committed.is_ok() {
                plan.record(Outcome::Ran(reason));
            }
            from_commit(committed)
        }
        Err(user_error) => user_error,
    }
}

fn from_commit<R: CreatorReturn>(committed: Result<Vec<File>>) -> R {
    match committed {
        Ok(files) => from_files::<R>(files),
        Err(e) => R::from_lake_error(e),
    }
}

fn from_files<R: CreatorReturn>(files: Vec<File>) -> R {
    match R::Outputs::from_files(files) {
        Ok(outputs) => R::from_outputs(outputs),
        Err(e) => R::from_lake_error(e),
    }
}

/// A committed output whose creator's code identity differs from the one
/// linked into this program; see [`Lake::stale_outputs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleOutput {
    /// The output's name.
    pub name: Name,
    /// The creator's path.
    pub creator: String,
    /// Why it is stale, e.g. `code changed (hash 1a2b… → 3c4d…)`.
    pub reason: String,
}

/// Why an output made by `lineage` is stale against `current`, if it is.
pub(crate) fn staleness(lineage: &RunLineage, current: &CreatorInfo) -> Option<String> {
    let short = |h: &str| h.chars().take(12).collect::<String>();
    match (lineage.version.as_deref(), current.version) {
        (Some(old), Some(new)) if old != new => {
            Some(format!("version changed from {old:?} to {new:?}"))
        }
        (Some(_), Some(_)) => None,
        (None, Some(new)) => Some(format!("version {new:?} was added since it ran")),
        (Some(old), None) => Some(format!("version {old:?} was removed since it ran")),
        (None, None) if lineage.code_hash != current.identity_hash() => {
            // Name the items that changed when both sides recorded them.
            let changes = current.code_ingredients().changes_since(&lineage.code);
            let detail = match changes.len() {
                0 => String::new(),
                1..=5 => format!(": {}", changes.join(", ")),
                n => format!(": {}, and {} more", changes[..5].join(", "), n - 5),
            };
            Some(format!(
                "code changed (hash {}… → {}…){detail}",
                short(&lineage.code_hash),
                short(current.identity_hash())
            ))
        }
        (None, None) => None,
    }
}

/// What differs between the call that made an output (`stored`) and a call
/// of `info` with `params` and `inputs`, one phrase per key component:
/// creator, code identity or version, each argument by parameter name,
/// each input by parameter. Never empty: keys can also differ by lake's
/// own key encoding.
pub(crate) fn key_differences(
    stored: &RunLineage,
    info: &CreatorInfo,
    params: &[ParamRecord],
    inputs: &[InputRef],
) -> Vec<String> {
    let short = |h: &str| h.chars().take(12).collect::<String>();
    // One line however large the argument: long renderings are cut.
    let show = |v: &serde_json::Value| {
        let text = v.to_string();
        match text.char_indices().nth(60) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        }
    };
    let mut out = Vec::new();
    let creator = info.path();
    if stored.creator != creator {
        out.push(format!(
            "creator differs (made by {}, now {creator})",
            stored.creator
        ));
    }
    match (stored.version.as_deref(), info.version) {
        (Some(old), Some(new)) if old != new => {
            out.push(format!("version differs (was {old:?}, now {new:?})"))
        }
        (Some(_), Some(_)) => {}
        (None, Some(new)) => out.push(format!("version differs (none before, now {new:?})")),
        (Some(old), None) => out.push(format!("version differs (was {old:?}, now none)")),
        (None, None) if stored.code_hash != info.code_hash => out.push(format!(
            "code identity differs (hash {}… → {}…)",
            short(&stored.code_hash),
            short(info.code_hash)
        )),
        (None, None) => {}
    }
    for param in params {
        match stored.params.iter().find(|p| p.name == param.name) {
            None => out.push(format!("argument {} is new", param.name)),
            Some(old) if old.hash == param.hash => {}
            Some(old) if old.json == param.json => out.push(format!(
                "argument {} is encoded differently ({}; lake's key encoding changed)",
                param.name,
                show(&param.json)
            )),
            Some(old) => out.push(format!(
                "argument {} differs (was {}, now {})",
                param.name,
                show(&old.json),
                show(&param.json)
            )),
        }
    }
    for old in &stored.params {
        if !params.iter().any(|p| p.name == old.name) {
            out.push(format!("argument {} is gone", old.name));
        }
    }
    for input in inputs {
        match stored.inputs.iter().find(|i| i.param == input.param) {
            None => out.push(format!("input {} is new", input.param)),
            Some(old) if old.name != input.name => out.push(format!(
                "input {} differs (was {:?}, now {:?})",
                input.param,
                old.name.as_str(),
                input.name.as_str()
            )),
            Some(old) if old.blake3 != input.blake3 => out.push(format!(
                "input {} ({:?}) has other content (blake3 {}… → {}…)",
                input.param,
                input.name.as_str(),
                short(&old.blake3.to_hex()),
                short(&input.blake3.to_hex())
            )),
            Some(_) => {}
        }
    }
    for old in &stored.inputs {
        if !inputs.iter().any(|i| i.param == old.param) {
            out.push(format!("input {} is gone", old.param));
        }
    }
    if out.is_empty() {
        out.push(format!(
            "the key encoding differs (made by lake {}, now {})",
            stored.lake_version,
            env!("CARGO_PKG_VERSION")
        ));
    }
    out
}

/// Every `#[file_creator]` linked into this program.
pub fn creators() -> impl Iterator<Item = &'static CreatorInfo> {
    inventory::iter::<Registration>.into_iter().map(|r| r.0)
}

/// The first two creators of the program that share an identity, checked
/// once per process. The macro gives nested and `impl` creators distinct
/// identities, but it cannot see every position (a creator generated by a
/// `macro_rules!`, two blocks of one function), and two creators with one
/// identity would hand each other's outputs back: so while any pair exists,
/// every creator call fails, naming both.
fn shared_identity() -> Option<Error> {
    static SHARED: std::sync::OnceLock<Option<[String; 3]>> = std::sync::OnceLock::new();
    let [identity, first, second] = SHARED
        .get_or_init(|| first_shared_identity(creators()))
        .as_ref()?;
    Some(Error::DuplicateCreator {
        identity: identity.clone(),
        first: first.clone(),
        second: second.clone(),
    })
}

/// `[identity, first location, second location]` of the first pair of
/// distinct creators with one identity.
fn first_shared_identity<'a>(infos: impl Iterator<Item = &'a CreatorInfo>) -> Option<[String; 3]> {
    let mut seen = std::collections::HashMap::new();
    for info in infos {
        // The same static registered twice is one creator, not two.
        if let Some(other) = seen.insert(info.path(), info)
            && !std::ptr::eq(other, info)
        {
            let (first, second) = if other.location() <= info.location() {
                (other, info)
            } else {
                (info, other)
            };
            return Some([info.path(), first.location(), second.location()]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(version: Option<&'static str>, code_hash: &'static str) -> CreatorInfo {
        CreatorInfo {
            name: "f",
            module_path: "m",
            enclosing: "",
            source_file: "src/lib.rs",
            source_line: 1,
            code_hash,
            code_parts: &[],
            code_cfg: &[],
            code_identity: CodeIdentityCell::new(),
            version,
            crate_name: "c",
            crate_version: "0.1.0",
            manifest_dir: ".",
        }
    }

    fn lineage(version: Option<&str>, code_hash: &str) -> RunLineage {
        let now = Utc::now();
        RunLineage {
            creator: "m::f".into(),
            source_file: "src/lib.rs".into(),
            source_line: 1,
            code_hash: code_hash.into(),
            code: CodeIngredients::default(),
            version: version.map(str::to_owned),
            run_key: "00".repeat(32),
            output_index: 0,
            outputs: vec![],
            inputs: vec![],
            params: vec![],
            originator: "a@b".into(),
            lake_version: "0.1.0".into(),
            crate_name: "c".into(),
            crate_version: "0.1.0".into(),
            git: None,
            started_at: now,
            ended_at: now,
            duration_ms: 0,
            host: "h".into(),
        }
    }

    fn param(name: &str, json: serde_json::Value, canonical: &[u8]) -> ParamRecord {
        ParamRecord {
            name: name.into(),
            json,
            hash: Digest::of(canonical),
        }
    }

    fn input(param: &str, name: &str, content: &[u8]) -> InputRef {
        InputRef {
            param: param.into(),
            name: Name::new(name).unwrap(),
            blake3: Digest::of(content),
        }
    }

    #[test]
    fn key_differences_name_each_component() {
        let mut stored = lineage(None, "aaaa");
        stored.params = vec![
            param("x", serde_json::json!(1), b"1"),
            param("mode", serde_json::json!("fast"), b"fast"),
            param("old", serde_json::json!(true), b"t"),
        ];
        stored.inputs = vec![input("data", "raw/a", b"A"), input("ref", "raw/r", b"R")];
        let same_params = stored.params.clone();
        let same_inputs = stored.inputs.clone();
        let current = info(None, "aaaa");

        // Nothing differs that the lineage records: the encoding did.
        let only = key_differences(&stored, &current, &same_params, &same_inputs);
        assert_eq!(only.len(), 1);
        assert!(only[0].contains("key encoding"), "{only:?}");

        let params = vec![
            param("x", serde_json::json!(2), b"2"),
            // Same rendering, other bytes: the encoding changed.
            param("mode", serde_json::json!("fast"), b"fast-v2"),
            param("new", serde_json::json!(0), b"0"),
        ];
        let inputs = vec![
            input("data", "raw/a", b"A2"),
            input("ref", "raw/other", b"R"),
        ];
        let all = key_differences(&stored, &info(None, "bbbb"), &params, &inputs).join("; ");
        for part in [
            "code identity differs (hash aaaa… → bbbb…)",
            "argument x differs (was 1, now 2)",
            "argument mode is encoded differently",
            "argument new is new",
            "argument old is gone",
            "input data (\"raw/a\") has other content",
            "input ref differs (was \"raw/r\", now \"raw/other\")",
        ] {
            assert!(all.contains(part), "{part} missing from {all}");
        }
        assert!(!all.contains("creator"), "{all}");

        let versioned = key_differences(&lineage(Some("1"), "a"), &info(Some("2"), "a"), &[], &[]);
        assert_eq!(versioned, ["version differs (was \"1\", now \"2\")"]);

        let mut moved = lineage(None, "a");
        moved.creator = "other::f".into();
        let why = key_differences(&moved, &info(None, "a"), &[], &[]);
        assert_eq!(why, ["creator differs (made by other::f, now m::f)"]);

        // A long argument is cut, so the message stays short.
        let long = serde_json::json!("x".repeat(500));
        let mut big = lineage(None, "a");
        big.params = vec![param("blob", long, b"1")];
        let why = key_differences(
            &big,
            &info(None, "a"),
            &[param("blob", serde_json::json!(1), b"2")],
            &[],
        );
        assert!(why[0].len() < 200, "{why:?}");
    }

    #[test]
    fn shared_identities_are_found_with_both_locations() {
        let a = Box::leak(Box::new(info(None, "aa")));
        let mut b = info(None, "bb");
        b.source_line = 9;
        let b = Box::leak(Box::new(b));
        let mut nested = info(None, "cc");
        nested.enclosing = "outer()::";
        let nested = Box::leak(Box::new(nested));
        assert_eq!(
            first_shared_identity([&*a, &*nested, &*a].into_iter()),
            None
        );
        assert_eq!(
            first_shared_identity([&*b, &*nested, &*a].into_iter()),
            Some(["m::f".into(), "src/lib.rs:1".into(), "src/lib.rs:9".into()])
        );
        assert_eq!(nested.path(), "m::outer()::f");
    }

    #[test]
    fn staleness_compares_version_before_code_hash() {
        assert_eq!(staleness(&lineage(None, "aaaa"), &info(None, "aaaa")), None);
        assert!(
            staleness(&lineage(None, "aaaa"), &info(None, "bbbb"))
                .unwrap()
                .starts_with("code changed")
        );
        // A pinned version keeps the output fresh across code edits.
        assert_eq!(
            staleness(&lineage(Some("1"), "aaaa"), &info(Some("1"), "bbbb")),
            None
        );
        assert!(staleness(&lineage(Some("1"), "a"), &info(Some("2"), "a")).is_some());
        assert!(staleness(&lineage(None, "a"), &info(Some("2"), "a")).is_some());
        assert!(staleness(&lineage(Some("1"), "a"), &info(None, "a")).is_some());
    }

    #[test]
    fn cfg_values_enter_the_identity() {
        let on = CreatorInfo {
            code_cfg: &[("feature = \"x\"", true)],
            ..info(None, "aaaa")
        };
        let off = CreatorInfo {
            code_cfg: &[("feature = \"x\"", false)],
            ..info(None, "aaaa")
        };
        // Without cfg predicates the macro's hash is the identity.
        assert_eq!(info(None, "aaaa").identity_hash(), "aaaa");
        assert_ne!(on.identity_hash(), off.identity_hash());
        assert_ne!(on.identity_hash(), "aaaa");
        assert_eq!(on.identity_hash().len(), 64);
        // A version ignores them, like every other part of the code.
        let pinned = CreatorInfo {
            version: Some("1"),
            ..on
        };
        assert_eq!(pinned.code_identity(), CodeIdentity::Version("1".into()));
        assert!(pinned.code_ingredients().is_empty());
    }

    #[test]
    fn staleness_names_the_changed_items() {
        let current = CreatorInfo {
            code_parts: &[("const", "LIMIT", "2222"), ("fn", "helper", "1111")],
            ..info(None, "bbbb")
        };
        let mut old = lineage(None, "aaaa");
        old.code = CodeIngredients {
            parts: vec![
                CodePart {
                    kind: "const".into(),
                    name: "LIMIT".into(),
                    hash: "2222".into(),
                },
                CodePart {
                    kind: "fn".into(),
                    name: "helper".into(),
                    hash: "0000".into(),
                },
            ],
            cfg: vec![],
        };
        assert_eq!(
            staleness(&old, &current).unwrap(),
            "code changed (hash aaaa… → bbbb…): fn helper changed"
        );
    }
}
