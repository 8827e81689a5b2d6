//! `lake lineage`: what a file was made from and what was made from it,
//! read from this home's index (never a scan of the store), and drawn as a
//! text tree, Graphviz DOT, Mermaid or JSON.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use lake_core::{Lineage, Name, Record};
use serde::Serialize;

use crate::blocking::block_on;
use crate::{Lake, Result};

/// Which way [`Lake::lineage`] follows the lineage from its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineageDirection {
    /// What the file was made from, and what that was made from.
    Up,
    /// What was made from the file, and from that.
    Down,
    /// Both.
    Both,
}

/// A part of the lineage graph around one file; see [`Lake::lineage`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageGraph {
    /// The file the graph was asked for.
    pub root: Name,
    /// Every file in the graph, the root included, sorted by name.
    pub nodes: Vec<LineageNode>,
    /// "`to` was made from `from`", sorted.
    pub edges: Vec<LineageEdge>,
}

/// One file in a [`LineageGraph`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageNode {
    /// Its name.
    pub name: Name,
    /// The creator that made it; `None` for a file that was added.
    pub made_by: Option<String>,
}

/// One "made from" relation in a [`LineageGraph`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LineageEdge {
    /// The input.
    pub from: Name,
    /// The output made from it.
    pub to: Name,
    /// The creator's parameter that took `from`.
    pub param: String,
}

impl Lake {
    /// The lineage around `name`, `depth` levels each way (`None`: all of
    /// it), from this home's index. The index is refreshed first if it is
    /// older than the refresh interval, as `lake ls` does.
    ///
    /// # Example
    /// ```
    /// use std::io::Write;
    /// use lake_runtime::{File, Lake, LineageDirection, file_creator};
    ///
    /// #[file_creator]
    /// fn upper(text: &File) -> lake_runtime::Result<File> {
    ///     let mut out = File::create_output()?;
    ///     out.write_all(text.read_to_string()?.to_uppercase().as_bytes())?;
    ///     out.commit()
    /// }
    ///
    /// let lake = Lake::temporary()?;
    /// let mut w = lake.create("raw/a.txt")?;
    /// w.write_all(b"a")?;
    /// let raw = w.commit()?;
    /// let loud = upper(&raw)?;
    /// let graph = lake.lineage(raw.name(), LineageDirection::Down, None)?;
    /// assert_eq!(graph.edges.len(), 1);
    /// assert_eq!(&graph.edges[0].to, loud.name());
    /// println!("{}", graph.to_text());
    /// # Ok::<(), lake_runtime::Error>(())
    /// ```
    pub fn lineage(
        &self,
        name: &Name,
        direction: LineageDirection,
        depth: Option<usize>,
    ) -> Result<LineageGraph> {
        block_on(self.lineage_async(name, direction, depth))
    }

    /// [`Lake::lineage`], async.
    pub async fn lineage_async(
        &self,
        name: &Name,
        direction: LineageDirection,
        depth: Option<usize>,
    ) -> Result<LineageGraph> {
        if self.index_is_stale()? {
            self.refresh_async().await?;
        }
        // The root must exist; its record may also be newer than the index.
        let root = self.record_async(name).await?;
        let mut records: BTreeMap<Name, Record> = self
            .index()
            .records()?
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        records.insert(root.name.clone(), root);
        Ok(LineageGraph::around(name, &records, direction, depth))
    }
}

impl LineageGraph {
    fn around(
        root: &Name,
        records: &BTreeMap<Name, Record>,
        direction: LineageDirection,
        depth: Option<usize>,
    ) -> Self {
        let all_edges: Vec<LineageEdge> = records.values().flat_map(made_from).collect();
        let mut edges = BTreeSet::new();
        let mut names = BTreeSet::from([root.clone()]);
        let up = matches!(direction, LineageDirection::Up | LineageDirection::Both);
        let down = matches!(direction, LineageDirection::Down | LineageDirection::Both);
        for (follow, upward) in [(up, true), (down, false)] {
            if !follow {
                continue;
            }
            // Each edge filed once under the end the walk arrives from, so
            // a visit reads its own edges instead of scanning them all.
            let mut from_here: BTreeMap<&Name, Vec<&LineageEdge>> = BTreeMap::new();
            for edge in &all_edges {
                let here = if upward { &edge.to } else { &edge.from };
                from_here.entry(here).or_default().push(edge);
            }
            let mut queue = VecDeque::from([(root.clone(), 0usize)]);
            let mut seen = BTreeSet::from([root.clone()]);
            while let Some((name, level)) = queue.pop_front() {
                if depth.is_some_and(|d| level >= d) {
                    continue;
                }
                for edge in from_here.get(&name).into_iter().flatten() {
                    let there = if upward { &edge.from } else { &edge.to };
                    edges.insert((*edge).clone());
                    names.insert(there.clone());
                    if seen.insert(there.clone()) {
                        queue.push_back((there.clone(), level + 1));
                    }
                }
            }
        }
        let nodes = names
            .into_iter()
            .map(|name| LineageNode {
                made_by: records.get(&name).and_then(|r| match &r.lineage {
                    Lineage::Created(run) => Some(run.creator.clone()),
                    _ => None,
                }),
                name,
            })
            .collect();
        Self {
            root: root.clone(),
            nodes,
            edges: edges.into_iter().collect(),
        }
    }

    /// Indented trees: what the root was made from (each file above the
    /// files it was made from), then what was made from it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let has_up = self.edges.iter().any(|e| e.to == self.root);
        let has_down = self.edges.iter().any(|e| e.from == self.root);
        if has_up || !has_down {
            self.write_tree(&mut out, &self.root, true, "", &mut BTreeSet::new());
        }
        if has_down {
            if has_up {
                out.push_str("\nmade from it:\n");
            }
            self.write_tree(&mut out, &self.root, false, "", &mut BTreeSet::new());
        }
        out
    }

    fn write_tree(
        &self,
        out: &mut String,
        name: &Name,
        upward: bool,
        indent: &str,
        shown: &mut BTreeSet<Name>,
    ) {
        let mut next: Vec<&LineageEdge> = self
            .edges
            .iter()
            .filter(|e| {
                if upward {
                    e.to == *name
                } else {
                    e.from == *name
                }
            })
            .collect();
        next.sort_by(|a, b| a.param.cmp(&b.param).then_with(|| a.cmp(b)));
        // A file reached twice (a diamond) is drawn in full once, then named.
        let repeated = !shown.insert(name.clone());
        let note = if repeated && !next.is_empty() {
            "  (drawn above)"
        } else {
            ""
        };
        let _ = writeln!(out, "{name}{}{note}", self.label(name));
        if repeated {
            return;
        }
        for (i, edge) in next.iter().enumerate() {
            let last = i + 1 == next.len();
            let (branch, carry) = if last {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            let child = if upward { &edge.from } else { &edge.to };
            out.push_str(indent);
            out.push_str(branch);
            if upward {
                let _ = write!(out, "{}: ", edge.param);
            }
            self.write_tree(out, child, upward, &format!("{indent}{carry}"), shown);
        }
    }

    fn label(&self, name: &Name) -> String {
        match self.nodes.iter().find(|n| n.name == *name) {
            Some(LineageNode {
                made_by: Some(creator),
                ..
            }) => format!("  ← {creator}"),
            Some(_) => "  (added)".to_owned(),
            None => String::new(),
        }
    }

    /// Graphviz DOT: `dot -Tsvg` draws it.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph lineage {\n  rankdir=LR;\n  node [shape=box];\n");
        for node in &self.nodes {
            let name = dot_escape(node.name.as_str());
            // `\n` is DOT's line break inside a label.
            let label = match &node.made_by {
                Some(creator) => format!("{name}\\n← {}", dot_escape(creator)),
                None => name.clone(),
            };
            let style = if node.name == self.root {
                ", style=bold"
            } else {
                ""
            };
            let _ = writeln!(out, "  \"{name}\" [label=\"{label}\"{style}];");
        }
        for edge in &self.edges {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [label=\"{}\"];",
                dot_escape(edge.from.as_str()),
                dot_escape(edge.to.as_str()),
                dot_escape(&edge.param)
            );
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart, which GitHub renders in Markdown.
    pub fn to_mermaid(&self) -> String {
        let id = |name: &Name| {
            self.nodes
                .iter()
                .position(|n| n.name == *name)
                .map_or_else(String::new, |i| format!("n{i}"))
        };
        let mut out = String::from("flowchart LR\n");
        for node in &self.nodes {
            let label = match &node.made_by {
                Some(creator) => format!("{}<br/>← {creator}", node.name),
                None => node.name.to_string(),
            };
            let _ = writeln!(out, "  {}[\"{}\"]", id(&node.name), mermaid_escape(&label));
        }
        for edge in &self.edges {
            let _ = writeln!(
                out,
                "  {} -->|{}| {}",
                id(&edge.from),
                mermaid_escape(&edge.param),
                id(&edge.to)
            );
        }
        out
    }
}

/// The "made from" edges of one record: one per input file.
fn made_from(record: &Record) -> Vec<LineageEdge> {
    match &record.lineage {
        Lineage::Created(run) => run
            .inputs
            .iter()
            .map(|input| LineageEdge {
                from: input.name.clone(),
                to: record.name.clone(),
                param: input.param.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The inside of a DOT string: quotes and backslashes escaped.
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Names are printable but may hold `"`; Mermaid takes HTML entities.
fn mermaid_escape(text: &str) -> String {
    text.replace('"', "&quot;").replace('|', "&#124;")
}
