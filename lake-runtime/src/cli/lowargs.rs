//! Command-line flags as clap parses them.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// `lake --help`'s closing section; README.md repeats it.
const AFTER_HELP: &str = "\
Exit status:
  0  success (also when a reader such as `head` closes the output early)
  1  error
  2  usage error: unknown command or flag, bad value
  3  `lake verify` found problems it did not repair

Colours follow the terminal, NO_COLOR and CLICOLOR_FORCE.
Logging: -v, -vv, -vvv raise lake's log level to info, debug, trace;
RUST_LOG, when set, is used instead.";

/// lake: immutable, named, verified files in a local cache in front of an
/// object store.
#[derive(Debug, Parser)]
#[command(
    name = "lake",
    version,
    about,
    propagate_version = true,
    after_help = AFTER_HELP
)]
pub(crate) struct LowArgs {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Home directory (cache, index, staging). Overrides LAKE_HOME and lake.toml.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,
    /// Store URL (file://, s3://, az://, gs://, memory://). Overrides LAKE_STORE and lake.toml.
    #[arg(long = "store-url", global = true, value_name = "URL")]
    pub(crate) store_url: Option<String>,
    /// No progress bars, per-file lines or summaries; only what was asked
    /// for (listings, content, JSON), and errors.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// More detail: per-file lines of `add -r` and lake's log at info;
    /// -vv debug, -vvv trace.
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub(crate) verbose: u8,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Add a file, a directory (-r), an http(s) URL or an object of any
    /// store (s3://, az://, gs://, file://) under NAME.
    Add {
        /// A file path, a directory with -r, an http(s) URL, or a store
        /// object URL such as s3://bucket/key (opened with this lake's
        /// store options and the AWS_*/AZURE_*/GOOGLE_* environment).
        source: String,
        /// The name to add it as (the prefix, with -r).
        name: String,
        /// Leave the source in place (the default).
        #[arg(long, conflicts_with = "move_source")]
        copy: bool,
        /// Remove the source once the lake holds it.
        #[arg(long = "move")]
        move_source: bool,
        /// Add every file below a directory as `NAME/<relative path>`.
        /// Prints a line per file when there are at most 20 (all of them
        /// with -v), then a summary line.
        #[arg(short, long)]
        recursive: bool,
        #[command(flatten)]
        annotate: AnnotateArgs,
    },
    /// List names: one level at a time, or everything with -r.
    Ls {
        /// Only names at or below this prefix.
        #[arg(default_value = "")]
        prefix: String,
        /// Print JSON Lines: one object per folder or file, as listed
        /// (shapes in docs/json.md).
        #[arg(long)]
        json: bool,
        /// List every name below PREFIX, not one level.
        #[arg(short, long)]
        recursive: bool,
        /// Re-read the store's names first, however fresh the index is.
        #[arg(long)]
        refresh: bool,
        /// Show each file's tags, labels and timestamp under it (with
        /// --json, an `annotations` field).
        #[arg(short, long)]
        long: bool,
        /// Only names with tag KEY set to VALUE (repeatable; all must hold).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Only names with this label (repeatable; all must hold).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// Only names whose timestamp (else creation time) is at or after
        /// DATE: RFC 3339, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS` (UTC).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only names with a local copy in this home.
        #[arg(long, conflicts_with = "remote")]
        local: bool,
        /// Only names without a local copy (in the store only).
        #[arg(long)]
        remote: bool,
        /// Show which stores hold each file's bytes, by its history (with
        /// --json, a `where` field): one listing of the store's history.
        #[arg(long = "where")]
        show_where: bool,
    },
    /// Show a file's record and lineage.
    Info {
        /// The name.
        name: String,
        /// Print the full record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what a file was made from and what was made from it, from the
    /// home's index.
    Lineage {
        /// The name.
        name: String,
        /// Only what it was made from.
        #[arg(long, conflicts_with = "down")]
        up: bool,
        /// Only what was made from it.
        #[arg(long)]
        down: bool,
        /// How many levels each way (default: all).
        #[arg(long, value_name = "N")]
        depth: Option<usize>,
        /// How to draw it.
        #[arg(long, value_enum, default_value_t = LineageFormat::Text)]
        format: LineageFormat,
        /// Write it to this file instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Say why the run that made a file happened: what differs from the
    /// latest earlier run of the same creator.
    Why {
        /// The name.
        name: String,
        /// Print the explanation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a file's content to stdout.
    Cat {
        /// The name.
        #[arg(required_unless_present = "pointer", conflicts_with = "pointer")]
        name: Option<String>,
        /// Resolve this pointer file (see `lake pointer`) instead of a name.
        #[arg(long, value_name = "FILE")]
        pointer: Option<PathBuf>,
    },
    /// Set tags: `lake tag NAME site=north run=3` (values that parse as
    /// numbers or true/false are stored as such; quote to keep text: '"3"').
    Tag {
        /// The name.
        name: String,
        /// KEY=VALUE pairs.
        #[arg(required = true, value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// Remove tags by key.
    Untag {
        /// The name.
        name: String,
        /// Tag keys.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Add labels (lowercased).
    Label {
        /// The name.
        name: String,
        /// Labels.
        #[arg(required = true, value_name = "LABEL")]
        labels: Vec<String>,
    },
    /// Remove labels.
    Unlabel {
        /// The name.
        name: String,
        /// Labels.
        #[arg(required = true, value_name = "LABEL")]
        labels: Vec<String>,
    },
    /// Set a file's timestamp (now, unless --timestamp is given).
    Touch {
        /// The name.
        name: String,
        /// RFC 3339, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS` (UTC).
        #[arg(long, value_name = "DATE")]
        timestamp: Option<String>,
    },
    /// Write a pointer file: a small JSON document (store URL without
    /// credentials, name, blake3, size) that `lake cat --pointer` and
    /// `File::from_pointer` resolve on any home configured for the store.
    Pointer {
        /// The name.
        name: String,
        /// Where to write it (default: stdout).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print a presigned URL: anyone holding it can download the file's
    /// content, without credentials, until it expires (S3, Azure and GCS
    /// stores).
    Url {
        /// The name.
        name: String,
        /// How long the URL stays valid (e.g. 15m, 1h, 2days; at most 7 days).
        #[arg(long, value_name = "DURATION", default_value = "1h")]
        expires: humantime::Duration,
    },
    /// Copy a file out of the lake.
    Get {
        /// The name.
        name: String,
        /// Where to write it (default: its file name in the current directory).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Overwrite OUTPUT if it exists.
        #[arg(short, long)]
        force: bool,
    },
    /// Print the path of a file's read-only local copy, downloading it if needed.
    LocalPath {
        /// The name.
        name: String,
    },
    /// Re-hash local copies (and, with --store, the copies in every store
    /// a file's history names, and the copies it started and never
    /// recorded).
    Verify {
        /// Names to check (default: all).
        names: Vec<String>,
        /// Also re-hash the store's objects.
        #[arg(long)]
        store: bool,
        /// Replace bad local copies with verified downloads, and bad store
        /// objects with good local copies; with --store, settle interrupted
        /// copies and moves in the history (never deleting data).
        #[arg(long)]
        repair: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove unreferenced blobs (store and home) and staging leftovers
    /// older than the grace period; with --max-size, also evict the least
    /// recently used local copies down to a budget.
    Gc {
        /// Only remove leftovers at least this many seconds old, so a run in
        /// flight keeps its blobs.
        #[arg(long, value_name = "SECS", default_value_t = 3600)]
        grace: u64,
        /// Only collect in the store (the home is left alone).
        #[arg(long, conflicts_with = "local")]
        store: bool,
        /// Only collect in the home (nothing in the store is deleted).
        #[arg(long)]
        local: bool,
        /// Then evict local copies, least recently used first, until they
        /// take at most SIZE (e.g. 10GiB, 500MB). They stay in the store.
        #[arg(long, value_name = "SIZE", value_parser = crate::size::parse_size, conflicts_with = "store")]
        max_size: Option<u64>,
        /// Show what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download every name at or below PREFIX into the local cache, in parallel
    /// and verified (nothing is downloaded twice).
    Pull {
        /// Only names at or below this prefix (default: every name).
        #[arg(default_value = "")]
        prefix: String,
    },
    /// Drop local copies (they stay in the store). A copy that names not
    /// evicted share (equal bytes) stays, unless --all.
    Evict {
        /// Names or prefixes whose local copies to drop.
        #[arg(required_unless_present = "all")]
        targets: Vec<String>,
        /// Drop every local copy of this home.
        #[arg(long, conflicts_with = "targets")]
        all: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove names from the store and the home, leaving a tombstone; their
    /// bytes leave the store once no other name holds them. With --from,
    /// remove only the copy in one store, keeping the name.
    Rm {
        /// Names to remove (prefixes, with -r).
        #[arg(required = true)]
        names: Vec<String>,
        /// Delete only the copies in this store (a store name from lake.toml,
        /// e.g. archive); the names stay. The last copy is refused unless
        /// --force-last.
        #[arg(long, value_name = "STORE", conflicts_with_all = ["recursive", "cascade", "dry_run"])]
        from: Option<String>,
        /// With --from: delete even the last copy, losing the bytes.
        #[arg(long, requires = "from")]
        force_last: bool,
        /// Remove every name at or below each NAME.
        #[arg(short, long)]
        recursive: bool,
        /// Also remove every file made from them, downstream first, after
        /// showing the list (asks on a terminal; else needs --yes).
        #[arg(long)]
        cascade: bool,
        /// Do not ask before a cascade.
        #[arg(short, long)]
        yes: bool,
        /// Show what would be removed; remove nothing.
        #[arg(short = 'n', long)]
        dry_run: bool,
        /// Why, kept in each tombstone.
        #[arg(short, long, value_name = "MESSAGE")]
        message: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the outputs that are out of date: made by a creator whose code
    /// differs from this program's, or made from such an output. Sees the
    /// creators of the program it runs in: a pipeline's binary that calls
    /// `lake_runtime::cli::main()`.
    Status {
        /// Print JSON Lines: one object per stale output.
        #[arg(long)]
        json: bool,
    },
    /// List the creators registered in this program, with their code
    /// identity and where they are defined.
    Creators {
        /// Print JSON Lines: one object per creator.
        #[arg(long)]
        json: bool,
    },
    /// Show each setting that applies here and where it came from: a flag,
    /// the environment, lake.toml, or the default. Never prints a secret.
    Config {
        /// Print the settings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration, the store (reachable, writable, its clock),
    /// and whether its conditional writes hold under a race of 8 writers.
    /// Never prints a secret. Exits 1 if a check fails.
    Doctor {
        /// Race longer (50 create rounds, 10 compare-and-swap rounds of 80
        /// increments): a race lost once in many rounds needs many to show.
        #[arg(long)]
        thorough: bool,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy files' bytes to another named store, verify them there, and
    /// record the new location in each file's history.
    Cp {
        /// The names.
        #[arg(required = true)]
        names: Vec<String>,
        /// The destination store (a store name from lake.toml).
        #[arg(long, value_name = "STORE")]
        to: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move files' bytes between named stores: copy, verify, record, and
    /// only then delete at the source.
    Mv {
        /// The names.
        #[arg(required = true)]
        names: Vec<String>,
        /// The store to move out of.
        #[arg(long, value_name = "STORE")]
        from: String,
        /// The store to move into.
        #[arg(long, value_name = "STORE")]
        to: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a file's history: its creation, every copy, move and removal,
    /// with time, user, host and command, and where its copies are now.
    History {
        /// The name (a removed name too).
        name: String,
        /// Print the history as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the man page (roff), e.g. `lake man > ~/.local/share/man/man1/lake.1`.
    Man,
    /// Print a shell completion script, e.g.
    /// `lake completions bash > ~/.local/share/bash-completion/completions/lake`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Annotations to set on what `lake add` adds.
#[derive(Debug, Args)]
pub(crate) struct AnnotateArgs {
    /// Set tag KEY to VALUE on each added file (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub(crate) tags: Vec<String>,
    /// Add a label to each added file (repeatable).
    #[arg(long = "label", value_name = "LABEL")]
    pub(crate) labels: Vec<String>,
    /// Set each added file's timestamp: RFC 3339, `YYYY-MM-DD` or
    /// `YYYY-MM-DDTHH:MM:SS` (UTC).
    #[arg(long, value_name = "DATE")]
    pub(crate) timestamp: Option<String>,
}

/// The drawings `lake lineage --format` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LineageFormat {
    /// An indented tree.
    Text,
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// `{root, nodes: [{name, made_by}], edges: [{from, to, param}]}`.
    Json,
    /// An SVG drawing of the DOT graph, laid out without Graphviz.
    Svg,
}
