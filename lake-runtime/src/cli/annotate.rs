//! The annotation commands' parsing: `KEY=VALUE` tags and dates.

use crate::{AnnotationError, Annotations, TagValue};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::cli::lowargs::AnnotateArgs;

/// `KEY=VALUE` → key and a scalar value (see [`TagValue::parse_cli`]).
pub(crate) fn parse_tag(text: &str) -> Result<(String, TagValue)> {
    let Some((key, value)) = text.split_once('=') else {
        bail!("invalid tag {text:?}: expected KEY=VALUE");
    };
    Ok((key.to_owned(), TagValue::parse_cli(value)))
}

/// `KEY=VALUE` for a filter: the value stays text, compared as
/// [`TagValue::matches_text`] does.
pub(crate) fn parse_tag_filter(text: &str) -> Result<(String, String)> {
    let Some((key, value)) = text.split_once('=') else {
        bail!("invalid tag filter {text:?}: expected KEY=VALUE");
    };
    Ok((key.to_owned(), value.to_owned()))
}

/// RFC 3339 (`2026-11-29T12:00:00Z`, any offset), or a date or a date and
/// time without offset, taken as UTC.
pub(crate) fn parse_date(text: &str) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.into());
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(at.and_utc());
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| {
        format!("invalid date {text:?}: expected RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS")
    })?;
    Ok(date
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc())
}

/// One change to a file's annotations, as a command asks for it.
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    SetTags(Vec<(String, TagValue)>),
    RemoveTags(Vec<String>),
    AddLabels(Vec<String>),
    RemoveLabels(Vec<String>),
    SetTimestamp(DateTime<Utc>),
}

impl Edit {
    pub(crate) fn apply(&self, a: &mut Annotations) -> Result<(), AnnotationError> {
        match self {
            Self::SetTags(tags) => {
                for (key, value) in tags {
                    a.set_tag(key, value.clone())?;
                }
            }
            Self::RemoveTags(keys) => {
                for key in keys {
                    a.remove_tag(key);
                }
            }
            Self::AddLabels(labels) => {
                for label in labels {
                    a.add_label(label)?;
                }
            }
            Self::RemoveLabels(labels) => {
                for label in labels {
                    a.remove_label(label);
                }
            }
            Self::SetTimestamp(at) => {
                a.set_timestamp(Some(*at));
            }
        }
        Ok(())
    }
}

/// Parses `KEY=VALUE` arguments into an [`Edit::SetTags`].
pub(crate) fn set_tags(args: &[String]) -> Result<Edit> {
    Ok(Edit::SetTags(
        args.iter().map(|t| parse_tag(t)).collect::<Result<_>>()?,
    ))
}

/// What `lake add --tag/--label/--timestamp` asks for, checked before
/// anything is added so a typo fails the command up front.
#[derive(Debug, Default)]
pub(crate) struct Changes(Vec<Edit>);

impl Changes {
    pub(crate) fn from_args(args: &AnnotateArgs) -> Result<Self> {
        let mut edits = vec![set_tags(&args.tags)?, Edit::AddLabels(args.labels.clone())];
        if let Some(at) = args.timestamp.as_deref().map(parse_date).transpose()? {
            edits.push(Edit::SetTimestamp(at));
        }
        let changes = Self(edits);
        // Validate keys and labels now, on a scratch copy.
        let mut scratch = Annotations::default();
        changes.apply(&mut scratch)?;
        Ok(if scratch.is_empty() {
            Self::default()
        } else {
            changes
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn apply(&self, a: &mut Annotations) -> Result<(), AnnotationError> {
        self.0.iter().try_for_each(|edit| edit.apply(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_three_forms() {
        let want: DateTime<Utc> = "2026-11-29T00:00:00Z".parse().unwrap();
        assert_eq!(parse_date("2026-11-29").unwrap(), want);
        assert_eq!(parse_date("2026-11-29T00:00:00").unwrap(), want);
        assert_eq!(parse_date("2026-11-29T01:00:00+01:00").unwrap(), want);
        let err = parse_date("yesterday").unwrap_err().to_string();
        assert!(err.contains("\"yesterday\""), "{err}");
    }

    #[test]
    fn tags_need_an_equals_sign() {
        assert_eq!(parse_tag("n=3").unwrap(), ("n".into(), TagValue::Int(3)));
        assert_eq!(
            parse_tag("k=a=b").unwrap(),
            ("k".into(), TagValue::Text("a=b".into()))
        );
        assert!(parse_tag("novalue").is_err());
    }
}
