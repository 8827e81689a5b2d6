//! The annotation commands' parsing: `KEY=VALUE` tags and dates.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use lake_runtime::{AnnotationError, Annotations, TagValue};

use crate::lowargs::AnnotateArgs;

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

/// What `lake add --tag/--label/--timestamp` asks for, checked before
/// anything is added so a typo fails the command up front.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    tags: Vec<(String, TagValue)>,
    labels: Vec<String>,
    timestamp: Option<DateTime<Utc>>,
}

impl Changes {
    pub(crate) fn from_args(args: &AnnotateArgs) -> Result<Self> {
        let changes = Self {
            tags: args
                .tags
                .iter()
                .map(|t| parse_tag(t))
                .collect::<Result<_>>()?,
            labels: args.labels.clone(),
            timestamp: args.timestamp.as_deref().map(parse_date).transpose()?,
        };
        // Validate keys and labels now, on a scratch copy.
        changes.apply(&mut Annotations::default())?;
        Ok(changes)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.labels.is_empty() && self.timestamp.is_none()
    }

    pub(crate) fn apply(&self, a: &mut Annotations) -> Result<(), AnnotationError> {
        for (key, value) in &self.tags {
            a.set_tag(key, value.clone())?;
        }
        for label in &self.labels {
            a.add_label(label)?;
        }
        if self.timestamp.is_some() {
            a.set_timestamp(self.timestamp);
        }
        Ok(())
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
