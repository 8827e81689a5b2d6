//! What differs between two runs' keys, for people: why an explicit name
//! was refused, and why a step ran again (`lake why`).

use lake_core::{CodeIngredients, InputRef, ParamRecord, RunLineage};

use super::creators::CreatorInfo;

/// One side of a comparison: the key components a run recorded, or those
/// of a call about to be made.
struct KeySide<'a> {
    creator: String,
    version: Option<&'a str>,
    code_hash: &'a str,
    code: CodeIngredients,
    params: &'a [ParamRecord],
    inputs: &'a [InputRef],
    lake_version: &'a str,
}

impl<'a> KeySide<'a> {
    fn of_run(run: &'a RunLineage) -> Self {
        Self {
            creator: run.creator.clone(),
            version: run.version.as_deref(),
            code_hash: &run.code_hash,
            code: run.code.clone(),
            params: &run.params,
            inputs: &run.inputs,
            lake_version: &run.lake_version,
        }
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
    let now = KeySide {
        creator: info.path(),
        version: info.version,
        code_hash: info.code_hash,
        code: info.code_ingredients(),
        params,
        inputs,
        lake_version: env!("CARGO_PKG_VERSION"),
    };
    differences(&KeySide::of_run(stored), &now)
}

/// What differs from the run `before` to the run `after`, as
/// [`key_differences`] words it.
pub(crate) fn run_differences(before: &RunLineage, after: &RunLineage) -> Vec<String> {
    differences(&KeySide::of_run(before), &KeySide::of_run(after))
}

fn differences(before: &KeySide<'_>, now: &KeySide<'_>) -> Vec<String> {
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
    if before.creator != now.creator {
        out.push(format!(
            "creator differs (made by {}, now {})",
            before.creator, now.creator
        ));
    }
    match (before.version, now.version) {
        (Some(old), Some(new)) if old != new => {
            out.push(format!("version differs (was {old:?}, now {new:?})"))
        }
        (Some(_), Some(_)) => {}
        (None, Some(new)) => out.push(format!("version differs (none before, now {new:?})")),
        (Some(old), None) => out.push(format!("version differs (was {old:?}, now none)")),
        (None, None) if before.code_hash != now.code_hash => {
            let items = now.code.changes_since(&before.code);
            let detail = if items.is_empty() {
                String::new()
            } else {
                format!(": {}", items.join(", "))
            };
            out.push(format!(
                "code identity differs (hash {}… → {}…){detail}",
                short(before.code_hash),
                short(now.code_hash)
            ))
        }
        (None, None) => {}
    }
    for param in now.params {
        match before.params.iter().find(|p| p.name == param.name) {
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
    for old in before.params {
        if !now.params.iter().any(|p| p.name == old.name) {
            out.push(format!("argument {} is gone", old.name));
        }
    }
    for input in now.inputs {
        match before.inputs.iter().find(|i| i.param == input.param) {
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
    for old in before.inputs {
        if !now.inputs.iter().any(|i| i.param == old.param) {
            out.push(format!("input {} is gone", old.param));
        }
    }
    if out.is_empty() {
        out.push(format!(
            "the key encoding differs (made by lake {}, now {})",
            before.lake_version, now.lake_version
        ));
    }
    out
}
