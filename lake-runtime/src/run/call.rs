//! A [`Call`]: the inputs and arguments of one creator call, gathered by
//! generated code, and its run key.
//!
//! The key is built in one place, [`Call::key`], from the inputs' digests;
//! the local-hit path (digests from this home's memo or index) and the plan
//! path (digests from wherever they are, the store included) only differ
//! in where the digests come from. A test below holds them to one key.

use lake_core::key::{KeyParams, RunKey, encode_arg};
use lake_core::{Digest, InputRef, Name, ParamRecord};
use serde::Serialize;

use super::creators::shared_identity;
use super::plan::Plan;
use super::{CreatorInfo, InputFiles, OutputName, OutputNames};
use crate::outcome::{HitSource, KeyComponents};
use crate::{Error, File, Lake, Result};

/// The inputs and arguments of one call, gathered by generated code.
#[derive(Debug)]
pub struct Call {
    pub(super) info: &'static CreatorInfo,
    inputs: Vec<(String, File)>,
    args: Vec<ArgValue>,
    pub(super) explicit_outputs: Option<Vec<Name>>,
    error: Option<Error>,
    /// The key a batch worker was told this call has
    /// (docs/design/0012): any other key is refused before the body runs.
    expected_key: Option<RunKey>,
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
            expected_key: crate::batch::expected_key(),
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

    /// The input files, in order.
    pub(super) fn input_files(&self) -> impl Iterator<Item = &File> {
        self.inputs.iter().map(|(_, file)| file)
    }

    /// The lake the call runs on: its first input's, else the current one.
    pub(super) fn lake(&self) -> Result<Lake> {
        match self.inputs.first() {
            Some((_, file)) => Ok(file.lake().clone()),
            None => Lake::current(),
        }
    }

    /// The run key of this call, given its inputs' digests in order: the
    /// only place a key is built, for the local-hit and the plan path alike.
    fn key(&self, digests: &[Digest]) -> RunKey {
        debug_assert_eq!(digests.len(), self.inputs.len());
        let mut key = KeyParams::new(&self.info.path(), self.info.code_identity());
        for arg in &self.args {
            key = key.with_arg(arg.name, &arg.canonical);
        }
        for ((param, file), digest) in self.inputs.iter().zip(digests) {
            key = key.with_input(param, file.name(), digest);
        }
        key.compute()
    }

    /// What went into [`Call::key`], by component, for a tracking lake.
    pub(super) fn components(&self, digests: &[Digest]) -> KeyComponents {
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

    /// The arguments as the lineage records them.
    pub(super) fn params(&self) -> Vec<ParamRecord> {
        self.args
            .iter()
            .map(|arg| ParamRecord {
                name: arg.name.to_owned(),
                json: arg.json.clone(),
                hash: Digest::of(&arg.canonical),
            })
            .collect()
    }

    /// The inputs as the lineage records them, given their digests.
    pub(super) fn input_refs(&self, digests: &[Digest]) -> Vec<InputRef> {
        self.inputs
            .iter()
            .zip(digests)
            .map(|((param, file), digest)| InputRef {
                param: param.clone(),
                name: file.name().clone(),
                blake3: *digest,
            })
            .collect()
    }

    /// The key from this home alone: every input's digest from the memo or
    /// the index (an index error reads as unknown: the slow path reports
    /// it). `None` if an input's digest is not known here.
    fn local_key(&self) -> Option<(RunKey, Vec<Digest>)> {
        let digests = self
            .inputs
            .iter()
            .map(|(_, file)| Some(file.lake().indexed_content(file.name()).ok()??.0))
            .collect::<Option<Vec<Digest>>>()?;
        Some((self.key(&digests), digests))
    }

    /// A hit answered from this home alone, synchronously: the in-process
    /// memo when warm (no SQLite, no JSON), else the index. No runtime is
    /// started and the store is not asked. `None` means "ask the slow
    /// path", never "miss".
    pub(super) fn local_hit(&self, lake: &Lake) -> Option<LocalHit> {
        if self.error.is_some() {
            return None;
        }
        let (key, digests) = self.local_key()?;
        if self.expected_key.is_some_and(|expected| expected != key) {
            return None;
        }
        let files = |names: &[Name]| {
            names
                .iter()
                .map(|n| File::from_parts(lake.clone(), n.clone()))
                .collect()
        };
        let (files, source) = match &self.explicit_outputs {
            Some(names) => {
                // Explicit names are a hit only if every one was made by a
                // run with this very key; anything else goes to the slow
                // path, which re-checks with the store and explains a
                // refusal.
                let source = if names.iter().all(|n| lake.memo_maker(n).is_some()) {
                    HitSource::Memory
                } else {
                    HitSource::Index
                };
                for name in names {
                    if lake.indexed_maker(name)? != Some(key) {
                        return None;
                    }
                }
                (files(names), source)
            }
            None => match lake.memo_run(&key) {
                Some(names) => (files(&names), HitSource::Memory),
                None => (files(&lake.indexed_run(&key)?), HitSource::Index),
            },
        };
        Some(LocalHit {
            files,
            source,
            key,
            digests,
        })
    }

    /// Resolves the inputs' digests (from the store if need be) and
    /// computes the key.
    pub(super) async fn plan(self, lake: Result<Lake>) -> Result<Plan> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let lake = lake?;
        let mut digests = Vec::with_capacity(self.inputs.len());
        for (_, file) in &self.inputs {
            digests.push(file.digest_async().await?);
        }
        let key = self.key(&digests);
        if let Some(expected) = self.expected_key {
            crate::batch::check_key(self.info, expected, key)?;
        }
        Ok(Plan {
            key,
            call: self,
            digests,
            lake,
            forced: false,
        })
    }
}

/// A hit found without the store.
pub(super) struct LocalHit {
    pub(super) files: Vec<File>,
    pub(super) source: HitSource,
    pub(super) key: RunKey,
    pub(super) digests: Vec<Digest>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocking::block_on;
    use crate::run::CodeIdentityCell;

    fn creator() -> &'static CreatorInfo {
        Box::leak(Box::new(CreatorInfo {
            name: "f",
            module_path: "call_tests",
            enclosing: "",
            source_file: "src/run/call.rs",
            source_line: 1,
            code_hash: "aaaa",
            code_parts: &[],
            code_cfg: &[],
            code_identity: CodeIdentityCell::new(),
            version: None,
            crate_name: "c",
            crate_version: "0.1.0",
            manifest_dir: ".",
        }))
    }

    fn write(lake: &Lake, name: &str, bytes: &[u8]) {
        let mut writer = lake.create(name).unwrap();
        std::io::Write::write_all(&mut writer, bytes).unwrap();
        writer.commit().unwrap();
    }

    /// The same call, with every kind of key component: a single input, a
    /// list of inputs, arguments, and explicit output names (which are not
    /// part of the key, and must not disturb it).
    fn call_on(lake: &Lake, info: &'static CreatorInfo) -> Call {
        let file = |name: &str| lake.file(name).unwrap();
        let mut call = Call::new(info);
        call.input("data", &file("in/a"));
        call.input("more", &vec![file("in/b"), file("in/a")]);
        call.arg("n", &3u32);
        call.arg("mode", "fast");
        call.output_uids(&["out/x", "out/y"]);
        call
    }

    #[test]
    fn local_hit_and_plan_paths_build_the_same_key() {
        let first = Lake::temporary().unwrap();
        write(&first, "in/a", b"a");
        write(&first, "in/b", b"b");
        let info = creator();
        // The local-hit path, with digests from this home's index.
        let (local_key, digests) = call_on(&first, info)
            .local_key()
            .expect("every input was written by this home");
        // The plan path, on a home that has never seen the inputs: its
        // digests come from the store.
        let second = first.second_machine().unwrap();
        let plan_call = call_on(&second, info);
        assert!(
            plan_call.local_key().is_none(),
            "a fresh home knows nothing"
        );
        let plan = block_on(plan_call.plan(Ok(second.lake().clone()))).unwrap();
        assert_eq!(plan.key, local_key);
        assert_eq!(plan.digests, digests);
        assert_eq!(
            plan.components(),
            call_on(&first, info).components(&digests)
        );
        // The key does depend on what the call is made of.
        let mut other = call_on(&first, info);
        other.arg("extra", &true);
        assert_ne!(other.local_key().unwrap().0, local_key);
    }
}
