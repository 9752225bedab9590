//! Device-resident `kiln::Array`s with a forced backend: the arrays move to
//! the device on the first launch and stay there across launches; reading
//! them on the host syncs them back once.
//!
//! `cargo run --example typed_resident` (the first GPU backend present, else
//! the CPU; `KILN_EXAMPLE_BACKEND=interp` forces another).

use kiln::{Array, Backend, Error};

kiln::kernels!("kernels/saxpy.kn"); // saxpy(a: f32, x: f32[:], y: mut f32[:])

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 4_096;
    let x = Array::from((0..n).map(|i| i as f32).collect::<Vec<_>>());
    let mut y = Array::from(vec![0.0f32; n]);

    let wanted: Vec<Backend> = match std::env::var("KILN_EXAMPLE_BACKEND") {
        Ok(name) => vec![name.parse().map_err(|e| Error::BackendUnavailable {
            backend: name.clone(),
            reason: format!("{e}"),
        })?],
        Err(_) => vec![Backend::Cuda, Backend::Wgpu, Backend::Cpu, Backend::Interp],
    };
    // The first backend that runs here: an absent one is an error saying why.
    let mut chosen = None;
    for b in wanted {
        match saxpy_on(b, 1.0, &x, &mut y) {
            Ok(()) => {
                chosen = Some(b);
                break;
            }
            Err(e @ Error::BackendUnavailable { .. }) => println!("skipping {b}: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    let Some(backend) = chosen else {
        println!("no backend runs here");
        return Ok(());
    };

    // Nine more launches on the same arrays: no copy in between.
    for _ in 0..9 {
        saxpy_on(backend, 1.0, &x, &mut y)?;
    }
    let t = y.transfers();
    println!(
        "{backend}: 10 launches, y moved {} time(s) up and {} down so far",
        t.uploads, t.downloads
    );
    let host = y.to_vec()?; // syncs back to the host when the device wrote it
    assert_eq!(host[2], 20.0);
    println!("y[2] = {} after reading it on the host", host[2]);
    Ok(())
}
