//! Writes one small file of every model format the inventory recognises (by each format's
//! specification), plus a tar and a zip holding some of them under other names, into a
//! folder: a quick way to try `modelward inventory find` and `scan`.
//!
//! ```text
//! cargo run -p modelward-inventory --example write_samples -- /tmp/models
//! modelward inventory find /tmp/models
//! ```

use modelward_inventory::samples;

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "model-samples".into()),
    );
    std::fs::create_dir_all(&dir)?;
    for (format, bytes) in samples::all() {
        std::fs::write(dir.join(format!("sample-{}", format.name())), bytes)?;
    }
    let tar = samples::tar(&[("weights/renamed.dat", &samples::safetensors())]);
    std::fs::write(dir.join("bundle.tar"), tar)?;
    let zip = samples::zip(&[("inner/model", &samples::gguf(), true)]);
    std::fs::write(dir.join("bundle.zip"), zip)?;
    println!("wrote samples to {}", dir.display());
    Ok(())
}
