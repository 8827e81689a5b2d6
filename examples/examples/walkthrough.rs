//! radops' walkthrough, in Rust.
//!
//! 1. Add a file to the lake.
//! 2. Run `process`, which appends "additional data" to it.
//! 3. Run it again: it is skipped, because its output exists.
//! 4. From a second home (as if on a second machine) on the same store, run
//!    it once more: skipped again, and reading the result downloads only the
//!    output, never the input.
//!
//! Uses the same configuration as the `lake` binary (`LAKE_HOME`,
//! `LAKE_STORE`, `lake.toml`); with none, the embedded default store.
//!
//! ```text
//! cargo run -p lake-examples --example walkthrough
//! ```

use std::io::Write;

use lake_runtime::{File, Lake, LakeConfigBuilder, file_creator};

/// Appends "additional data" to `input`.
#[file_creator]
fn process(input: &File) -> lake_runtime::Result<File> {
    println!("running process on {}", input.name());
    let mut text = input.read_to_string()?;
    text.push_str("additional data\n");
    let mut output = File::create_output()?;
    output.write_all(text.as_bytes())?;
    output.commit()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    lake_examples::show_lake_log_on_stdout();

    let lake = Lake::open()?;
    println!("home:  {}", lake.home_dir().display());
    println!("store: {}", lake.store());

    // 1. Add a file (re-adding identical content is a no-op).
    let mut writer = lake.create("walkthrough/data.txt")?;
    writer.write_all(b"some data\n")?;
    let input = writer.commit()?;
    println!(
        "added {} (blake3 {})",
        input.name(),
        input.digest()?.short(16)
    );

    // 2. The first call computes (unless an earlier run of this example did).
    let output = process(&input)?;
    println!("output {}:\n{}", output.name(), output.read_to_string()?);

    // 3. The second call skips.
    let again = process(&input)?;
    assert_eq!(again, output);

    // 4. A second machine: a fresh home on the same store.
    let second_home = tempfile::tempdir()?;
    let second = Lake::open_with(
        LakeConfigBuilder::new()
            .with_home(second_home.path())
            .with_store(lake.config().store_url.clone())
            .build()?,
    )?;
    let remote_input = second.file("walkthrough/data.txt")?;
    let remote_output = process(&remote_input)?;
    println!(
        "second home read {}:\n{}",
        remote_output.name(),
        remote_output.read_to_string()?
    );
    println!(
        "second home downloaded the output: {}, the input: {}",
        remote_output.exists_locally()?,
        remote_input.exists_locally()?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lake_runtime::{assert_hit, assert_ran};

    /// "The second call is a hit", here and on a second machine.
    #[test]
    fn the_second_call_is_a_hit_even_on_a_second_machine() {
        let lake = Lake::temporary().unwrap();
        let mut writer = lake.create("walkthrough/data.txt").unwrap();
        writer.write_all(b"some data\n").unwrap();
        let input = writer.commit().unwrap();

        let output = assert_ran!(process(&input)).unwrap();
        assert_eq!(
            output.read_to_string().unwrap(),
            "some data\nadditional data\n"
        );
        assert_eq!(assert_hit!(process(&input)).unwrap(), output);

        let second = lake.second_machine().unwrap();
        let remote_input = second.file("walkthrough/data.txt").unwrap();
        assert_eq!(assert_hit!(process(&remote_input)).unwrap(), output);
        assert!(
            !remote_input.exists_locally().unwrap(),
            "a hit downloads nothing"
        );
    }
}
