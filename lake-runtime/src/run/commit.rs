//! What a finished run publishes: its outputs with their lineage, and its
//! run manifest. The protocol that publishes them (blobs, then name
//! records, then the manifest; create, else read the winner) is
//! [`Lake::publish_run`](crate::Lake::publish_run), in `lake/publish.rs`.

use chrono::{DateTime, Utc};
use lake_core::{Lineage, Name, RunLineage};

use super::RunManifest;
use super::context::RunContext;
use super::plan::Plan;
use crate::lake::RunOutput;
use crate::{Error, File, Result};

impl Plan {
    /// Commits the body's outputs: blobs, then name records, then manifest.
    pub(super) async fn commit(
        &self,
        context: &RunContext,
        files: Vec<File>,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    ) -> Result<Vec<File>> {
        let info = self.call.info;
        let pending = context.take_pending();
        let mut outputs = Vec::with_capacity(files.len());
        for file in &files {
            let Some(p) = pending.iter().find(|p| &p.name == file.name()) else {
                return Err(Error::ForeignOutput {
                    creator: info.path(),
                    name: file.name().clone(),
                });
            };
            outputs.push(p.clone());
        }
        let names: Vec<Name> = outputs.iter().map(|o| o.name.clone()).collect();
        let git = crate::lineage::git_info(info.manifest_dir, info.source_file, info.source_line);
        let code = info.code_ingredients();
        let (inputs, params) = (self.call.input_refs(&self.digests), self.call.params());
        let outputs = outputs.into_iter().enumerate().map(|(index, output)| {
            let lineage = RunLineage {
                creator: info.path(),
                source_file: info.source_file.to_owned(),
                source_line: info.source_line,
                code_hash: info.identity_hash().to_owned(),
                code: code.clone(),
                version: info.version.map(str::to_owned),
                run_key: self.key.to_hex(),
                output_index: index as u32,
                outputs: names.clone(),
                inputs: inputs.clone(),
                params: params.clone(),
                originator: self.lake.originator().to_owned(),
                lake_version: env!("CARGO_PKG_VERSION").to_owned(),
                crate_name: info.crate_name.to_owned(),
                crate_version: info.crate_version.to_owned(),
                git: git.clone(),
                started_at,
                ended_at,
                duration_ms: (ended_at - started_at).num_milliseconds().max(0) as u64,
                host: crate::lineage::host(),
            };
            RunOutput {
                name: output.name,
                digest: output.blake3,
                size: output.size,
                lineage: Lineage::Created(Box::new(lineage)),
            }
        });
        let explicit = self.call.explicit_outputs.is_some();
        let manifest = self
            .lake
            .publish_run(
                outputs.collect(),
                self.forced,
                // A concurrent call with another key may have taken an
                // explicit name since the lookup: its output is not ours
                // to return.
                |record| {
                    if explicit {
                        self.check_explicit(record)
                    } else {
                        Ok(())
                    }
                },
                |committed| {
                    RunManifest::new(
                        self.key,
                        info.path(),
                        info.identity_hash(),
                        info.version.map(str::to_owned),
                        committed,
                    )
                },
            )
            .await?;
        if let Some(names) = &self.call.explicit_outputs {
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
